"""The deployment files in docker/ against the code: commands, paths, pins, ports and secrets.

Nothing here builds an image or starts a container; the files are read as data and every
tempopt command line in them is parsed by the real CLI (unknown commands or options, missing
arguments and bad values fail).
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

import tempopt.cli
import tempopt.cli.proxy_commands  # noqa: F401  registers grpc-proxy until tempopt.cli imports it
from tempopt.study import load_spec

ROOT = Path(__file__).resolve().parents[1]
DOCKER = ROOT / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
COMPOSE_FILES = sorted(DOCKER.glob("docker-compose*.yml"))
K8S_FILES = sorted((DOCKER / "k8s").glob("*.yaml"))
YAML_FILES = sorted({*DOCKER.rglob("*.yml"), *DOCKER.rglob("*.yaml")})
README = ROOT / "README.md"
TORCH_FALLBACK = "2.13.0"  # the pin while README.md (and its install command) is not written
SECRET_KEY = re.compile(r"pass(word|wd)?$|secret|token|api_?key", re.IGNORECASE)
URL_PASSWORD = re.compile(r"[a-z+]+://[^/\s:@]*:([^@\s/]+)@")


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def cli() -> Any:
    """The click group behind the typer app (typer ≥ 0.2x vendors click as typer._click)."""
    group = typer.main.get_command(tempopt.cli.app)
    assert hasattr(group, "commands")
    return group


def parse_tempopt(args: list[str]) -> tuple[str, dict[str, Any]]:
    """Parse ``tempopt ARGS`` like the CLI would; the subcommand and its parsed parameters."""
    group = cli()
    assert args, "an empty tempopt command line"
    name, rest = args[0], args[1:]
    assert name in group.commands, f"`tempopt {name}` is not a command (there are: {sorted(group.commands)})"
    try:
        ctx = group.commands[name].make_context(name, list(rest))
    except Exception as e:  # click's UsageError, vendored or not
        if not hasattr(e, "format_message"):
            raise
        pytest.fail(f"`tempopt {shlex.join(args)}`: {e.format_message()}")
    return name, ctx.params


def check_study_file(path: Path) -> None:
    """A study file named in a container (under /studies, the image's and compose's) is in studies/."""
    assert path.parent == Path("/studies"), f"{path} is not under /studies"
    load_spec(ROOT / "studies" / path.name)  # raises SpecError if missing or invalid


def env_example() -> dict[str, str]:
    values = {}
    for line in (DOCKER / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


ENVIRONMENTS = {"env-example": env_example, "defaults": dict}  # docker/.env as shipped, or none


def interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}`` and ``$$`` (a literal $)."""

    def one(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name, op, arg = match.group(1), match.group(2) or "", match.group(3) or ""
        value = env.get(name, "")
        if op == ":?" and not value:
            return "test-only-value"  # compose would refuse to start; the tests supply a value
        return value if value or op != ":-" else arg

    return re.sub(r"\$\$|\$\{(\w+)(?:(:[-?])([^}]*))?\}", one, text)


def load_compose(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def tempopt_services(compose: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, service in compose["services"].items():
        if str(service.get("image", "")).startswith("tempopt") or "build" in service:
            yield name, service


def service_invocation(service: dict[str, Any], env: dict[str, str]) -> list[str]:
    """The tempopt arguments a compose service runs, its shell and variables resolved."""
    entrypoint = service.get("entrypoint", ["tempopt"])
    command = [interpolate(str(a), env) for a in service.get("command", [])]
    if entrypoint == ["tempopt"]:
        return command
    assert entrypoint == ["/bin/sh", "-c"] and len(command) == 1, f"unexpected entrypoint {entrypoint}"
    environment = {k: interpolate(str(v), env) for k, v in (service.get("environment") or {}).items()}
    return shell_invocation(command[0], environment)


def shell_invocation(script: str, environment: dict[str, str]) -> list[str]:
    """The arguments after ``tempopt`` in a ``sh -c`` script (``$((…))`` read as 1)."""
    script = re.sub(r"\$\(\((?:[^()]|\([^()]*\))*\)\)", "1", script)
    script = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: environment[m.group(1) or m.group(2)], script)
    words = shlex.split(script)
    if words[:1] == ["exec"]:
        words = words[1:]
    assert words[:1] == ["tempopt"], f"the script does not run tempopt: {script!r}"
    return words[1:]


# --- every file ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", YAML_FILES, ids=rel)
def test_yaml_files_parse(path: Path) -> None:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert documents and all(isinstance(d, dict) for d in documents)


def test_the_deployment_files_are_there() -> None:
    assert DOCKERFILE.is_file() and COMPOSE_FILES and K8S_FILES
    assert (DOCKER / ".env.example").is_file()


# --- compose -----------------------------------------------------------------------------------


@pytest.mark.parametrize("variables", ENVIRONMENTS)
@pytest.mark.parametrize("path", COMPOSE_FILES, ids=rel)
def test_compose_commands_are_tempopt_commands(path: Path, variables: str) -> None:
    env = ENVIRONMENTS[variables]()
    ran = {}
    for name, service in tempopt_services(load_compose(path)):
        if "command" in service:
            ran[name], params = parse_tempopt(service_invocation(service, env))
            if "study_file" in params:
                check_study_file(params["study_file"])
    assert ran, f"{rel(path)} runs no tempopt command"
    if path.name == "docker-compose.yml":
        assert ran == {"worker": "worker", "dashboard": "dashboard", "report": "report", "tempopt": "studies"}


def test_compose_layout() -> None:
    compose = load_compose(DOCKER / "docker-compose.yml")
    services = compose["services"]
    postgres = services["postgres"]
    assert "healthcheck" in postgres and "pg_isready" in str(postgres["healthcheck"]["test"])
    volume = postgres["volumes"][0].split(":")[0]
    assert volume in compose["volumes"], "the database lives in a named volume"
    worker = services["worker"]
    assert "replicas" in worker["deploy"] and "container_name" not in worker  # scalable
    assert any(v.split(":")[0] in compose["volumes"] and v.endswith(":/work/.tempopt-cache") for v in worker["volumes"])
    assert services["report"]["profiles"] == ["report"]  # runs on demand only
    for name, service in tempopt_services(compose):
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name


@pytest.mark.parametrize("variables", ENVIRONMENTS)
def test_compose_services_share_the_postgres_storage(variables: str) -> None:
    compose = load_compose(DOCKER / "docker-compose.yml")
    env = ENVIRONMENTS[variables]()
    for name, service in tempopt_services(compose):
        _, params = parse_tempopt(service_invocation(service, env))
        environment = {k: interpolate(str(v), env) for k, v in service["environment"].items()}
        for url in (params["storage"], environment["TEMPOPT_STORAGE"]):
            assert url == "postgresql://tempopt@postgres:5432/tempopt", name
        assert environment["PGPASSWORD"] == "test-only-value", f"{name}: the password comes from docker/.env"


@pytest.mark.parametrize("variables", ENVIRONMENTS)
def test_compose_serves_submitted_studies_and_reports_a_shipped_one(variables: str) -> None:
    env = ENVIRONMENTS[variables]()
    compose = load_compose(DOCKER / "docker-compose.yml")
    _, worker = parse_tempopt(service_invocation(compose["services"]["worker"], env))
    assert worker["studies"] == "*" and worker["max_idle"] is None  # serves everything, until stopped
    assert str(worker["alive_file"]) in str(compose["services"]["worker"]["healthcheck"]["test"])
    cli_service = compose["services"]["tempopt"]
    assert cli_service["profiles"] == ["cli"] and "/studies" in cli_service["volumes"][0]
    _, report = parse_tempopt(service_invocation(compose["services"]["report"], env))
    names = {load_spec(p).name for p in (ROOT / "studies").glob("*.yaml")}
    assert report["study"] in names and str(report["out_dir"]) == "/reports"


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=rel)
def test_compose_files_fit_the_compose_spec_schema(path: Path) -> None:
    """The real compose-spec JSON schema (check-jsonschema's vendored copy), not only our reading."""
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_schema_check_can_fail(tmp_path: Path) -> None:
    bad = tmp_path / "docker-compose.yml"
    bad.write_text("services:\n  worker:\n    image: tempopt:cpu\n    replica: 4\n")  # a misspelt key
    result = subprocess.run(
        [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.compose-spec", str(bad)],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=rel)
def test_compose_paths_exist(path: Path) -> None:
    for name, service in load_compose(path)["services"].items():
        build = service.get("build") or {}
        if "context" in build:
            context = (path.parent / build["context"]).resolve()
            assert context == ROOT, f"{name}: the build context must be the repository root"
            assert (context / build["dockerfile"]).resolve() == DOCKERFILE
        for build_arg in build.get("args", {}):
            assert re.search(rf"^ARG {build_arg}\b", DOCKERFILE.read_text(), re.M), f"{name}: no ARG {build_arg}"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                host = (path.parent / source).resolve()
                if volume.endswith(":ro"):
                    assert host.is_dir(), f"{name}: {source} does not exist"
                else:  # an output folder, made by the user and kept out of git
                    assert host.parent == ROOT and f"{host.name}/" in (ROOT / ".gitignore").read_text()


def test_only_loopback_ports_are_published() -> None:
    for path in COMPOSE_FILES:
        for name, service in load_compose(path)["services"].items():
            for port in service.get("ports", []):
                host_ip = port.get("host_ip") if isinstance(port, dict) else str(port).split(":")[0]
                assert host_ip == "127.0.0.1", f"{name} publishes {port} beyond this host"
    compose = load_compose(DOCKER / "docker-compose.yml")
    dashboard = compose["services"]["dashboard"]
    _, params = parse_tempopt(service_invocation(dashboard, env_example()))
    assert params["host"] == "0.0.0.0"  # inside the container, so the published port reaches it
    (published,) = dashboard["ports"]
    assert published.split(":")[-1] == str(params["port"])


# --- Dockerfile --------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def readme_torch_pin() -> str:
    readme = ROOT / "README.md"
    if not readme.is_file():
        return TORCH_FALLBACK
    pins = set(re.findall(r"torch==([0-9][0-9A-Za-z.+]*)", readme.read_text()))
    assert len(pins) == 1, f"README.md pins torch as {pins or 'nothing'}; expected one `torch==` version"
    return pins.pop()


def test_dockerfile_installs_the_pinned_torch_before_the_project() -> None:
    steps = dockerfile_instructions()
    args = dict(a.split("=", 1) for kind, a in steps if kind == "ARG" and "=" in a)
    assert args["TORCH_VERSION"] == readme_torch_pin()
    assert args["TORCH_INDEX"] == "https://download.pytorch.org/whl/cpu"
    runs = [a for kind, a in steps if kind == "RUN"]
    torch_step = next(i for i, r in enumerate(runs) if '"torch==${TORCH_VERSION}"' in r)
    project_step = next(i for i, r in enumerate(runs) if re.search(r"pip install \"?\.(\[|\"|\s)", r))
    assert torch_step < project_step
    assert '--index-url "${TORCH_INDEX}"' in runs[torch_step]
    assert "torch.__version__" in runs[project_step], "the build checks that the pin survived"


def test_dockerfile_runs_tempopt_as_a_user() -> None:
    steps = dockerfile_instructions()
    kinds = [kind for kind, _ in steps]
    users = [a for kind, a in steps if kind == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert kinds.index("USER") < kinds.index("ENTRYPOINT")
    entrypoint = next(a for kind, a in steps if kind == "ENTRYPOINT")
    assert json.loads(entrypoint) == ["tempopt"]


def test_dockerfile_copies_what_exists() -> None:
    copied = [a.split()[:-1] for kind, a in dockerfile_instructions() if kind == "COPY"]
    sources = [s for group in copied for s in group if not s.startswith("--")]
    readme = re.search(r'^readme\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)  # type: ignore[union-attr]
    assert {"pyproject.toml", readme, "tempopt", "studies"} <= set(sources)
    missing = [s for s in sources if not (ROOT / s).exists() and s != readme]
    assert not missing
    ignored = [s for s in sources if dockerignored(s)]
    assert not ignored, f".dockerignore leaves {ignored} out of the build context"


def dockerignored(path: str) -> bool:
    patterns = [p.strip() for p in (ROOT / ".dockerignore").read_text().splitlines()]
    for pattern in (p for p in patterns if p and not p.startswith(("#", "!"))):
        bare = pattern.removeprefix("**/")
        parts = Path(path).parts
        if fnmatch.fnmatch(path, pattern) or any(fnmatch.fnmatch(p, bare) for p in parts):
            return True
    return False


def test_dockerignore_keeps_secrets_and_databases_out() -> None:
    for path in ("docker/.env", ".env", "tempopt.db", ".git", ".venv", ".tempopt-cache"):
        assert dockerignored(path), path


# --- Kubernetes --------------------------------------------------------------------------------


def k8s_documents() -> list[dict[str, Any]]:
    return [d for path in K8S_FILES for d in yaml.safe_load_all(path.read_text()) if d]


def pod_specs() -> Iterator[tuple[str, dict[str, Any]]]:
    for doc in k8s_documents():
        if doc["kind"] in ("Job", "Deployment", "StatefulSet"):
            yield doc["metadata"]["name"], doc["spec"]["template"]["spec"]


def tempopt_containers() -> Iterator[tuple[str, dict[str, Any]]]:
    for name, pod in pod_specs():
        for container in pod["containers"]:
            if container["image"].startswith("tempopt"):
                yield name, container


def k8s_invocation(container: dict[str, Any]) -> list[str]:
    assert "command" not in container, "keep the image's tempopt entrypoint; pass args"
    return [re.sub(r"\$\(JOB_COMPLETION_INDEX\)", "0", a) for a in container["args"]]


def test_k8s_containers_run_tempopt_commands() -> None:
    ran = {}
    for name, container in tempopt_containers():
        ran[name], params = parse_tempopt(k8s_invocation(container))
        if "study_file" in params:
            check_study_file(params["study_file"])
    assert {"run", "grpc-proxy", "worker"} <= set(ran.values())


@pytest.mark.parametrize("path", K8S_FILES, ids=rel)
def test_k8s_manifests_fit_the_kubernetes_schemas(path: Path) -> None:
    """Every document against the Kubernetes 1.37 OpenAPI schemas, strictly (no unknown fields)."""
    import kubernetes_validate

    for doc in yaml.safe_load_all(path.read_text()):
        if doc:
            kubernetes_validate.validate(doc, "1.37.0", strict=True)


def test_the_k8s_schema_check_can_fail() -> None:
    import kubernetes_validate

    (pool,) = [d for d in k8s_documents() if d["kind"] == "Deployment" and d["metadata"]["name"] == "tempopt-pool"]
    bad = {**pool, "spec": {**pool["spec"], "replicas": "four"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, "1.37.0", strict=True)


def test_k8s_pool_is_a_scalable_deployment_with_a_meaningful_liveness_probe() -> None:
    (pool,) = [d for d in k8s_documents() if d["kind"] == "Deployment" and d["metadata"]["name"] == "tempopt-pool"]
    spec = pool["spec"]
    assert isinstance(spec["replicas"], int) and spec["replicas"] >= 1
    pod = spec["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["terminationGracePeriodSeconds"] >= 30
    (worker,) = pod["containers"]
    name, params = parse_tempopt(k8s_invocation(worker))
    assert name == "worker" and params["max_idle"] is None
    probe = worker["livenessProbe"]
    assert str(params["alive_file"]) in " ".join(probe["exec"]["command"])  # the file the worker touches
    assert probe["periodSeconds"] * probe["failureThreshold"] >= 120  # longer than the idle back-off
    mounts = {m["mountPath"] for m in worker["volumeMounts"]}
    assert "/work/.tempopt-cache" in mounts and str(params["alive_file"].parent) in mounts


def test_k8s_job_is_indexed_and_survives_preemption() -> None:
    (job,) = [d for d in k8s_documents() if d["kind"] == "Job"]
    spec = job["spec"]
    assert spec["completionMode"] == "Indexed"
    assert isinstance(spec["completions"], int) and 1 <= spec["parallelism"] <= spec["completions"]
    assert "backoffLimit" in spec or "backoffLimitPerIndex" in spec
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    rules = spec["podFailurePolicy"]["rules"]
    assert {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget"}]} in rules
    assert pod["securityContext"]["runAsNonRoot"] is True
    (worker,) = pod["containers"]
    args = worker["args"]
    assert args[args.index("--worker-index") + 1] == "$(JOB_COMPLETION_INDEX)"
    name, params = parse_tempopt(k8s_invocation(worker))
    assert name == "run" and params["worker_index"] == 0
    check_study_file(params["study_file"])
    assert worker["resources"]["requests"]["cpu"] and worker["resources"]["limits"]["memory"]
    claims = {d["metadata"]["name"] for d in k8s_documents() if d["kind"] == "PersistentVolumeClaim"}
    cache = next(m for m in worker["volumeMounts"] if m["mountPath"] == "/work/.tempopt-cache")
    volume = next(v for v in pod["volumes"] if v["name"] == cache["name"])
    assert volume["persistentVolumeClaim"]["claimName"] in claims


def test_k8s_storage_hosts_and_secrets_are_defined() -> None:
    docs = k8s_documents()
    services = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Service"}
    secret_names = set()
    for _, pod in pod_specs():
        for container in pod["containers"] + pod.get("initContainers", []):
            for var in container.get("env", []):
                ref = var.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    secret_names.add((ref["name"], ref["key"]))
    assert secret_names == {("tempopt-postgres", "password")}, "one Secret, made by kubectl create secret"
    for _, container in tempopt_containers():
        _, params = parse_tempopt(k8s_invocation(container))
        url = re.match(r"(\w+)://(?:[^@/]*@)?([^:/]+):(\d+)", params["storage"])
        assert url, params["storage"]
        service = services[url.group(2)]
        assert int(url.group(3)) in [p["port"] for p in service["spec"]["ports"]]
    assert "grpc://tempopt-grpc-proxy:13000" in "".join(p.read_text() for p in K8S_FILES)


# --- secrets -----------------------------------------------------------------------------------


def walk(node: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        if "name" in node and "value" in node and isinstance(node["name"], str):  # a k8s env var
            yield node["name"], node["value"]
        for k, v in node.items():
            yield from walk(v, str(k))
    elif isinstance(node, list):
        for item in node:
            yield from walk(item, key)
    else:
        yield key, node


def plaintext_secrets(doc: Any) -> list[str]:
    """Secret-looking keys with a literal value, and URLs with a literal password, in a document."""
    found = []
    if isinstance(doc, dict) and doc.get("kind") == "Secret":
        found.append("a Secret")
    for key, value in walk(doc):
        text = "" if value is None else str(value)
        if SECRET_KEY.search(key) and not re.fullmatch(r"\$\{[^}]+\}|", text):
            found.append(key)
        for password in URL_PASSWORD.findall(re.sub(r"\$\{[^}]*\}", "REF_", text)):
            if password != "REF_":
                found.append(f"a password in {text!r}")
    return found


def test_no_plaintext_secrets() -> None:
    for path in YAML_FILES:
        for doc in yaml.safe_load_all(path.read_text()):
            assert not plaintext_secrets(doc), rel(path)
    for key, value in env_example().items():
        if SECRET_KEY.search(key):
            assert value == "", f"docker/.env.example gives {key} a value; leave it empty"


def test_the_secret_scan_finds_secrets() -> None:
    bad = yaml.safe_load(
        """
        environment: {POSTGRES_PASSWORD: hunter2, TEMPOPT_STORAGE: "postgresql://u:hunter2@db/t"}
        env: [{name: PGPASSWORD, value: hunter2}]
        """
    )
    assert len(plaintext_secrets(bad)) == 3
    good = {"environment": {"PGPASSWORD": "${POSTGRES_PASSWORD:?set it}", "URL": "postgresql://${U:-u}:${P}@db/t"}}
    assert plaintext_secrets(good) == []
    assert plaintext_secrets({"kind": "Secret", "stringData": {"password": "x"}}) == ["a Secret", "password"]


# --- the scaling guide -------------------------------------------------------------------------


def doc_commands() -> list[list[str]]:
    """Every ``tempopt …`` line in the README's bash blocks (fences tracked line by line)."""
    commands, language = [], None
    text = re.sub(r"\\\n\s*", " ", README.read_text())
    for line in text.splitlines():
        if line.startswith("```"):
            language = line[3:].strip() if language is None else None
            continue
        if language in ("bash", "sh", "console"):
            line = line.split(" #", 1)[0].strip()
            if line.startswith("tempopt "):
                commands.append(shlex.split(line)[1:])
    return commands


def test_readme_commands_parse() -> None:
    commands = doc_commands()
    assert {c[0] for c in commands} >= {"launch", "run", "grpc-proxy"}
    for args in commands:
        # placeholders like $DB or "$(hostname)" stand for strings; give ints where the CLI wants them
        args = ["3" if a in ("$WORKER_INDEX", "$i") else a for a in args]
        parse_tempopt(args)
