"""Finish the generated project: write its .env with freshly generated PASERK keys; drop files of unused options;
make it a git repository.

Runs with the Python that runs cookiecutter, which may have nothing but the standard library,
so the Ed25519 public key is derived here (RFC 8032, section 5.1.5) rather than with a package.
"""

import base64
import hashlib
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

PURPOSE = "{{ cookiecutter.paseto_purpose }}"
DATABASE = "{{ cookiecutter.database }}"
PACKAGE = "{{ cookiecutter.package_name }}"
POSTGRES_ONLY = [
    "tests/test_database_faults.py",  # stops and starts a PostgreSQL cluster of its own
    f"src/{PACKAGE}/auth/listener.py",  # LISTEN/NOTIFY
    "tests/test_revocation_push.py",
]
ENV_PREFIX = "{{ cookiecutter.package_name | upper }}_"

# Ed25519 curve constants (RFC 8032, section 5.1).
P = 2**255 - 19
D = -121665 * pow(121666, P - 2, P) % P
BASE_Y = 4 * pow(5, P - 2, P) % P


def _recover_x(y: int) -> int:
    xx = (y * y - 1) * pow(D * y * y + 1, P - 2, P)
    x = pow(xx, (P + 3) // 8, P)
    if (x * x - xx) % P:
        x = x * pow(2, (P - 1) // 4, P) % P
    return P - x if x % 2 else x


def _add(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """Add two points in extended coordinates."""
    aa = (a[1] - a[0]) * (b[1] - b[0]) % P
    bb = (a[1] + a[0]) * (b[1] + b[0]) % P
    cc = 2 * a[3] * b[3] * D % P
    dd = 2 * a[2] * b[2] % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _scalar_mult(scalar: int, point: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    result = (0, 1, 1, 0)
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def ed25519_public_key(seed: bytes) -> bytes:
    digest = hashlib.sha512(seed).digest()
    scalar = int.from_bytes(digest[:32], "little")
    scalar &= (1 << 254) - 8
    scalar |= 1 << 254
    base_x = _recover_x(BASE_Y)
    x, y, z, _ = _scalar_mult(scalar, (base_x, BASE_Y, 1, base_x * BASE_Y % P))
    z_inv = pow(z, P - 2, P)
    x, y = x * z_inv % P, y * z_inv % P
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def _paserk(prefix: str, key: bytes) -> str:
    return prefix + base64.urlsafe_b64encode(key).rstrip(b"=").decode()


def generate_keys(purpose: str) -> dict[str, str]:
    """Return the .env lines for a new signing key (and, for public, its verification key)."""
    if purpose == "local":
        return {"PASETO_KEY": _paserk("k4.local.", secrets.token_bytes(32))}
    seed = secrets.token_bytes(32)
    public = ed25519_public_key(seed)
    return {
        "PASETO_KEY": _paserk("k4.secret.", seed + public),
        "PASETO_PUBLIC_KEY": _paserk("k4.public.", public),
    }


def write_env(path: Path) -> None:
    """Copy .env.example to .env, filling in the generated secrets. .env is git-ignored."""
    # PURPOSE_KEY: the purpose tokens' (links in mails, device tokens), always local.
    keys = generate_keys(PURPOSE) | {"PURPOSE_KEY": _paserk("k4.local.", secrets.token_bytes(32))}
    values = {ENV_PREFIX + name: value for name, value in keys.items()}
    if DATABASE == "postgresql":
        values["POSTGRES_PASSWORD"] = secrets.token_urlsafe(24)  # for compose.yaml's database
    lines = []
    for line in Path(".env.example").read_text().splitlines():
        name = line.split("=", 1)[0]
        lines.append(f"{name}={values.pop(name)}" if name in values else line)
    lines.extend(f"{name}={value}" for name, value in values.items())
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


def remove_postgres_files() -> None:
    for name in POSTGRES_ONLY:
        Path(name).unlink()


def make_git_repository() -> None:
    """`git init` and `git add --all`, so that `uv run pre-commit install` works and `pre-commit run
    --all-files` checks every file (it sees only tracked ones); no commit, the first one is the author's.
    .env is git-ignored, so it is not staged.

    Without git, nothing: the README says to run `git init` first.
    """
    git = shutil.which("git")
    if git is None:
        return
    for step in (["init", "--quiet"], ["add", "--all"]):
        result = subprocess.run([git, *step], capture_output=True, text=True, check=False)
        if result.returncode:  # the project is complete without it; say why, and go on
            print(f"WARNING: git {step[0]} failed, run it yourself: {result.stderr.strip()}", file=sys.stderr)
            return


if __name__ == "__main__":
    write_env(Path(".env"))
    if DATABASE != "postgresql":
        remove_postgres_files()
    make_git_repository()
