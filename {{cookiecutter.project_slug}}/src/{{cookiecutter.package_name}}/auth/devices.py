"""A session's device as a person names it ("Firefox on Android"), from its User-Agent header.

A few ordered patterns for the browsers and systems most people use, not a full user-agent database:
the name only helps a person recognise their own devices, and the raw header stays beside it. The
order matters, because browsers copy each other's tokens: Edge and Opera say "Chrome", Chrome says
"Safari", Android says "Linux", iPhones say "like Mac OS X".
"""

import re

# (pattern, name), the first match wins.
BROWSERS = [
    (r"\bEdg(e|A|iOS)?/", "Edge"),
    (r"\b(OPR|Opera)/", "Opera"),
    (r"\bSamsungBrowser/", "Samsung Internet"),
    (r"\bVivaldi/", "Vivaldi"),
    (r"\b(Firefox|FxiOS)/", "Firefox"),
    (r"\b(Chrome|Chromium|CriOS)/", "Chrome"),
    (r"\bVersion/[\d.]+.*\bSafari/", "Safari"),
    (r"\bMobile/\w+ Safari/|\bAppleWebKit/.*\bMobile/", "Safari"),
]
SYSTEMS = [
    (r"\bAndroid\b", "Android"),
    (r"\b(iPhone|iPod)\b", "iOS"),
    (r"\biPad\b", "iPadOS"),
    (r"\bWindows\b", "Windows"),
    (r"\bCrOS\b", "ChromeOS"),
    (r"\bMac OS X\b|\bMacintosh\b", "macOS"),
    (r"\bLinux\b|\bX11\b", "Linux"),
]
# Programs that say their own name first: "curl/8.5.0", "python-httpx/0.28.1".
TOOLS = [
    (r"^curl/", "curl"),
    (r"^Wget/", "Wget"),
    (r"^python-httpx/", "Python (httpx)"),
    (r"^python-requests/", "Python (requests)"),
    (r"^(Python-urllib|aiohttp)/", "Python"),
    (r"^PostmanRuntime/", "Postman"),
    (r"^HTTPie/", "HTTPie"),
    (r"^Go-http-client/", "Go"),
    (r"^okhttp/", "OkHttp"),
]
UNKNOWN = "Unknown device"


def _first(rules: list[tuple[str, str]], user_agent: str) -> str | None:
    return next((name for pattern, name in rules if re.search(pattern, user_agent)), None)


def device_name(user_agent: str | None) -> str:
    """The device as a person names it: "Chrome on Linux", "Firefox on Android", "curl", or "Unknown device"."""
    user_agent = (user_agent or "").strip()
    tool = _first(TOOLS, user_agent)
    if tool:
        return tool
    browser, system = _first(BROWSERS, user_agent), _first(SYSTEMS, user_agent)
    if browser and system:
        return f"{browser} on {system}"
    return browser or (f"A browser on {system}" if system else UNKNOWN)
