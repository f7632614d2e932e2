-- POST one fixed body on every request (a login): wrk ... -s post.lua URL -- CONTENT_TYPE BODY
function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = args[1]
  wrk.body = args[2]
end
