"""Issue 23 (3): while another account holder loops successful logins with his own device token, does the
owner's known device still get in?

One server (one worker, --proxy-headers so X-Forwarded-For sets the client address), production hashing
and its default bounds (PASSWORD_HASH_CONCURRENCY = the CPU count). `mallory` logs in once to get a device
token, then --flooders threads log in with it back to back from 198.51.100.66 for the whole run. `alice`,
whose device logged in once before from 203.0.113.10, tries --tries (20) logins with her device token
from there, one after another; each answer is counted.

    <project>/.venv/bin/python scripts/measure/account_flood_vs_owner.py --project <project> [--label ...]
"""

import collections
import threading

import httpx2
from common import PASSWORD, Server, arguments, cli, create_user, drop_database, environment, fresh_database, load, write_section

OWNER, FLOODER = "203.0.113.10", "198.51.100.66"


def login(client: httpx2.Client, name: str, address: str, device_token: str | None) -> httpx2.Response:
    body = {"username": name, "password": PASSWORD} | ({"device_token": device_token} if device_token else {})
    return client.post("/login", json=body, headers={"X-Forwarded-For": address})


def main() -> None:
    args = arguments(__doc__ or "", tries="20", flooders="4")
    database = "measure_flood"
    env = environment(fresh_database(database), {"PASETO_APP_LOGIN_ACCOUNT_FREE_FAILURES": "1000"})
    cli(args.project, env, "migrate")
    create_user(args.project, env, "alice")
    create_user(args.project, env, "mallory")
    server = Server(args.project, env, 8062, f"flood-{args.label}", "--proxy-headers", "--forwarded-allow-ips", "127.0.0.1")
    stop, flood = threading.Event(), collections.Counter[int]()
    try:
        with httpx2.Client(base_url=server.url, timeout=60) as client:
            alices = login(client, "alice", OWNER, None).json().get("device_token")
            mallorys = login(client, "mallory", FLOODER, None).json().get("device_token")

            def flooder() -> None:
                with httpx2.Client(base_url=server.url, timeout=60) as own:
                    while not stop.is_set():
                        flood[login(own, "mallory", FLOODER, mallorys).status_code] += 1

            threads = [threading.Thread(target=flooder) for _ in range(int(args.flooders))]
            for thread in threads:
                thread.start()
            while sum(flood.values()) < 4:  # the flood is under way before the owner tries
                stop.wait(0.05)
            owner = [login(client, "alice", OWNER, alices).status_code for _ in range(int(args.tries))]
            stop.set()
            for thread in threads:
                thread.join()
    finally:
        server.stop()
        drop_database(database)
    lines = [
        f"{args.label}: load {load()}; alice's known device got in {owner.count(200)} of {len(owner)} times "
        f"({' '.join(map(str, owner))}); mallory's flood: {dict(flood)}"
    ]
    write_section("Another account's successful logins vs the owner's known device (issue 23, 3)", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
