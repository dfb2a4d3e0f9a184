"""The production stack (docker-compose.yml and its proxy, deploy/nginx/gptstore.conf): every
Celery queue has a worker, every service a health check, only the proxy is reachable from
outside, the CPU and GPU images are tagged apart, and the proxy's body limits are the app's.

Docker cannot run here. Where Debian's `docker-compose` (1.29) is installed, the file must also
pass `docker-compose -f docker-compose.yml config -q`; where it is not, that test checks the
YAML alone (it parses and has services) rather than skipping.
"""

import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
NGINX = ROOT / "deploy" / "nginx" / "gptstore.conf"
# What the proxy allows on top of a file's own limit for the multipart form around it (the
# comments in deploy/nginx/gptstore.conf say so at each such location).
FORM_OVERHEAD = 1024 * 1024
SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def default_of(value: str) -> str:
    """The default of a "${NAME:-default}" reference."""
    match = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
    assert match, value
    return match.group(1)


# --- a small reader of nginx's configuration syntax -------------------------------------------


class Block:
    def __init__(self, args: tuple[str, ...], parent: "Block | None" = None):
        self.args = args
        self.parent = parent
        # name -> the arguments of each occurrence (proxy_set_header, listen repeat)
        self.directives: dict[str, list[list[str]]] = {}
        self.children: list[Block] = []

    def get(self, name: str) -> list[str] | None:
        """The arguments of a directive set in this very block."""
        return self.directives.get(name, [None])[-1]

    def effective(self, name: str) -> list[str] | None:
        """A directive's arguments here, or as inherited from the enclosing blocks."""
        block = self
        while block is not None:
            if name in block.directives:
                return block.get(name)
            block = block.parent
        return None

    def walk(self):
        for child in self.children:
            yield child
            yield from child.walk()


def nginx_config() -> Block:
    text = re.sub(r"#[^\n]*", "", NGINX.read_text())
    tokens = re.findall(r"'[^']*'|\"[^\"]*\"|[{};]|[^\s{};]+", text)
    root = block = Block(())
    words: list[str] = []
    for token in tokens:
        if token == "{":
            child = Block(tuple(words), block)
            block.children.append(child)
            block, words = child, []
        elif token == "}":
            block, words = block.parent, []
        elif token == ";":
            block.directives.setdefault(words[0], []).append(words[1:])
            words = []
        else:
            words.append(token)
    return root


def server(port: str) -> Block:
    """The server block listening on ``port`` (IPv4)."""
    servers = [b for b in nginx_config().walk() if b.args == ("server",)]
    return next(b for b in servers if any(a[0] == port for a in b.directives["listen"]))


def location(block: Block, *args: str) -> Block:
    found = [b for b in block.walk() if b.args == ("location", *args)]
    assert found, f"no location {' '.join(args)} in {NGINX.name}"
    return found[0]


def body_limit(block: Block) -> int:
    value = block.effective("client_max_body_size")[0].lower()
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", value).groups()
    return int(number) * SIZE_UNITS[unit]


# --- the stack ----------------------------------------------------------------------------------


def test_every_celery_queue_has_a_worker_in_the_production_stack():
    consumed = set()
    for service in services().values():
        command = service.get("command") or []
        if isinstance(command, list) and "worker" in command and "-Q" in command:
            consumed.update(command[command.index("-Q") + 1].split(","))

    assert set(settings.CELERY_TASK_QUEUES_NAMES) <= consumed
    assert "training" in consumed


def test_every_service_but_the_one_shot_migration_has_a_health_check():
    missing = [
        name
        for name, service in services().items()
        if name != "migrate" and not (service.get("healthcheck") or {}).get("test")
    ]
    assert missing == []
    assert "healthcheck" not in services()["migrate"]


def test_each_worker_checks_its_own_heartbeat_on_the_queue_it_consumes():
    for name, service in services().items():
        command = service.get("command") or []
        if isinstance(command, list) and "worker" in command:
            queue = command[command.index("-Q") + 1]
            test = service["healthcheck"]["test"]
            assert test[-3:] == ["worker_health", "--queue", queue], name
    assert services()["beat"]["healthcheck"]["test"][-2:] == ["worker_health", "--broker"]


def test_the_cpu_and_gpu_builds_never_share_an_image_tag():
    built = {name: s for name, s in services().items() if "build" in s}
    gpu = {
        n
        for n, s in built.items()
        if (s.get("environment") or {}).get("INFERENCE_DEVICE") == "cuda"
    }
    assert gpu == {"worker-gpu", "worker-training-gpu"}
    gpu_images = {built[n]["image"] for n in gpu}
    cpu_images = {s["image"] for n, s in built.items() if n not in gpu}
    assert gpu_images == {"gptstore:${GPTSTORE_TAG:-latest}-cuda"}
    assert cpu_images == {"gptstore:${GPTSTORE_TAG:-latest}-cpu"}
    # And the GPU images are the ones built with the CUDA wheel index.
    for name in gpu:
        assert "TORCH_CUDA_INDEX" in built[name]["build"]["args"]["TORCH_INDEX"], name


def test_only_the_proxy_is_reachable_from_outside():
    published = {name: s["ports"] for name, s in services().items() if s.get("ports")}
    assert published == {"proxy": ["80:80", "443:443"]}
    assert services()["proxy"]["image"] == "nginx:1.27-alpine"


def test_the_proxy_mounts_its_configuration_and_certificates_read_only():
    mounts = services()["proxy"]["volumes"]
    assert "./deploy/nginx/gptstore.conf:/etc/nginx/conf.d/default.conf:ro" in mounts
    assert "./deploy/certs:/etc/nginx/certs:ro" in mounts
    tls = server("443")
    assert tls.get("ssl_certificate") == ["/etc/nginx/certs/fullchain.pem"]
    assert tls.get("ssl_certificate_key") == ["/etc/nginx/certs/privkey.pem"]


def test_the_app_believes_forwarded_headers_from_the_proxy_network_only():
    # Otherwise the app takes every proxied request for plain HTTP and redirects it forever.
    compose = yaml.safe_load(COMPOSE.read_text())
    trusted = default_of(compose["x-app"]["environment"]["FORWARDED_ALLOW_IPS"])
    edge = default_of(compose["networks"]["edge"]["ipam"]["config"][0]["subnet"])
    assert trusted == edge
    on_edge = {n for n, s in services().items() if "edge" in (s.get("networks") or [])}
    assert on_edge == {"proxy", "web"}
    assert services()["proxy"]["networks"] == ["edge"]


# --- the proxy ----------------------------------------------------------------------------------


def test_plain_http_is_redirected_to_https_except_the_proxy_health_check():
    plain = server("80")
    assert location(plain, "=", "/proxy-health").get("return")[0] == "200"
    assert location(plain, "/").get("return") == ["301", "https://$host$request_uri"]
    healthcheck = services()["proxy"]["healthcheck"]["test"]
    assert healthcheck[-1] == "http://127.0.0.1/proxy-health"


def test_the_proxy_passes_the_client_and_scheme_to_web():
    tls = server("443")
    headers = dict(tls.directives["proxy_set_header"])
    assert headers["Host"] == "$host"
    # Replaced, not appended to: a client cannot slip the app a made-up address.
    assert headers["X-Forwarded-For"] == "$remote_addr"
    assert headers["X-Forwarded-Proto"] == "$scheme"
    assert tls.get("set") == ["$web", "http://web:8000"]
    for block in tls.walk():
        if not block.args[1].startswith("@"):
            assert block.get("proxy_pass") == ["$web"], block.args
            assert "proxy_set_header" not in block.directives, "it would drop the server's headers"


def test_the_proxy_body_limits_are_the_apps_own():
    tls = server("443")
    assert body_limit(tls) == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert body_limit(location(tls, "/")) == settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert body_limit(location(tls, "/v1/")) == settings.API_MAX_BODY_BYTES

    training_file = settings.TRAINING_MAX_FILE_BYTES
    for training_upload in (
        location(tls, "~", "^/v1/files/?$"),
        location(tls, "=", "/fine-tuning/files"),
    ):
        # At least the app's own allowance (config/body_limits.py), at most the form's margin.
        assert training_file + 65536 <= body_limit(training_upload) <= training_file + FORM_OVERHEAD

    # The app refuses a declared body past this at once (store/publishing/upload_limits.py).
    weights = location(tls, "~", r"^/publish/\d+/upload/$")
    assert body_limit(weights) == settings.UPLOAD_MAX_BYTES + FORM_OVERHEAD

    knowledge = location(tls, "~", r"^/gpts/build/\d+/knowledge$")
    knowledge_file = settings.GPT_KNOWLEDGE_MAX_BYTES
    assert knowledge_file < body_limit(knowledge) <= knowledge_file + FORM_OVERHEAD


def test_the_routes_the_limits_name_are_the_apps_routes():
    from django.urls import reverse

    assert re.fullmatch(r"^/publish/\d+/upload/$", reverse("studio:upload", args=[7]))
    assert re.fullmatch(r"^/gpts/build/\d+/knowledge$", reverse("gpts:knowledge-add", args=[7]))
    assert reverse("training:file-upload") == "/fine-tuning/files"


def test_streams_and_uploads_pass_through_the_proxy_unbuffered():
    tls = server("443")
    api = location(tls, "/v1/")
    assert api.effective("proxy_buffering") == ["off"]
    read_timeout = int(api.effective("proxy_read_timeout")[0].removesuffix("s"))
    assert read_timeout >= settings.INFERENCE_REQUEST_TIMEOUT
    weights = location(tls, "~", r"^/publish/\d+/upload/$")
    assert weights.effective("proxy_request_buffering") == ["off"]
    # An unbuffered body is passed on chunked only over HTTP/1.1.
    assert weights.effective("proxy_http_version") == ["1.1"]


def test_an_oversized_api_body_is_refused_in_the_apis_error_shape():
    api = location(server("443"), "/v1/")
    assert api.get("error_page") == ["413", "@api_body_too_large"]
    answer = location(server("443"), "@api_body_too_large").get("return")
    assert answer[0] == "413"
    assert '"code": "request_too_large"' in answer[1]


def test_docker_compose_accepts_the_file(tmp_path):
    """Run by docker-compose where it is installed; the YAML alone otherwise."""
    compose = yaml.safe_load(COMPOSE.read_text())
    assert compose["services"]
    binary = shutil.which("docker-compose")
    if binary is None:
        return
    # .env.example as an operator fills it in, so that only real problems are reported.
    example = re.findall(r"^(\w+)=(.*)$", (ROOT / ".env.example").read_text(), re.MULTILINE)
    env = {**os.environ, "HOME": str(tmp_path), **{k: v or "x" for k, v in example}}
    for profile in ([], ["--profile", "gpu"]):
        result = subprocess.run(
            [binary, *profile, "-f", str(COMPOSE), "config", "-q"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
