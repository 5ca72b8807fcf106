"""infra/ validates offline: every manifest, config and Dockerfile found under it, and what they refer to.

Discovery is generic (every YAML file and Dockerfile under infra/), so a manifest added later is
covered without touching this file. The negative cases check that the validator can fail.
"""

from __future__ import annotations

import copy

import pytest

from infra import render, validate

MANIFESTS = validate.manifest_paths()
DOCKERFILES = validate.dockerfile_paths()


def _id(path) -> str:
    return str(path.relative_to(validate.REPO))


@pytest.fixture(scope="module")
def dockerfiles():
    return [validate.parse_dockerfile(path) for path in DOCKERFILES]


@pytest.fixture(scope="module")
def manifests():
    return [validate.load_manifest(path) for path in MANIFESTS]


@pytest.fixture(scope="module")
def objects(manifests):
    return validate.defined_objects(manifests)


def test_discovery_finds_the_operators_resources(manifests):
    kinds = {doc.get("kind") for m in manifests for doc in m.documents}
    assert {"SparkApplication", "RayJob", "RayCluster", "ConfigMap", "PersistentVolumeClaim"} <= kinds
    assert {path.relative_to(validate.INFRA).parts[0] for path in DOCKERFILES} >= {"spark", "ray"}


@pytest.mark.parametrize("path", MANIFESTS, ids=_id)
def test_manifest_is_valid(path, dockerfiles, objects):
    manifest = validate.load_manifest(path)
    assert manifest.documents, f"{path} has no YAML documents"
    problems = [p for doc in manifest.documents for p in validate.validate_document(path, doc)]
    problems += validate.reference_problems(manifest, dockerfiles, objects)
    assert problems == []


@pytest.mark.parametrize("path", DOCKERFILES, ids=_id)
def test_dockerfile_is_valid(path):
    assert validate.dockerfile_problems(validate.parse_dockerfile(path)) == []


def test_template_variables_have_one_documented_default():
    assert validate.variable_problems(MANIFESTS) == []


def test_crds_are_vendored_with_their_source():
    readme = (validate.CRD_DIR / "README.md").read_text()
    for crd in validate.CRD_DIR.glob("*.yaml"):
        assert crd.name in readme
    assert "Apache License, Version 2.0" in readme
    assert ("sparkoperator.k8s.io/v1beta2", "SparkApplication") in validate.crd_schemas()
    assert ("ray.io/v1", "RayJob") in validate.crd_schemas()


# --------------------------------------------------------------------------- rendering


def test_render_fills_values_then_defaults_and_keeps_shell_text():
    text = "image: ${REG:-localhost:5000}/x:${TAG}\ncmd: echo $HOME $$PATH ${lower}"
    assert render.render(text, {"TAG": "1.0"}) == "image: localhost:5000/x:1.0\ncmd: echo $HOME $PATH ${lower}"
    assert render.placeholders(text) == {"REG": "localhost:5000", "TAG": None}


def test_render_names_every_missing_variable():
    with pytest.raises(render.MissingValues, match="A, B"):
        render.render("${B} ${A} ${C:-c}", {}, source="t.yaml")


def test_render_cli_overrides_defaults(capsys):
    path = validate.INFRA / "k8s" / "namespace.yaml"
    assert render.main([str(path), "CODEMILL_NAMESPACE=team-a"]) == 0
    assert "name: team-a" in capsys.readouterr().out


# --------------------------------------------------------------------------- the validator can fail


def _document(manifests, kind: str) -> dict:
    return copy.deepcopy(next(doc for m in manifests for doc in m.documents if doc.get("kind") == kind))


def test_unknown_and_mistyped_fields_are_rejected(manifests):
    cluster = _document(manifests, "RayCluster")
    cluster["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["imagePullPolcy"] = "Always"
    cluster["spec"]["workerGroupSpecs"][0]["replicas"] = "two"
    problems = validate.validate_document(validate.INFRA / "x.yaml", cluster)
    assert any("imagePullPolcy" in p for p in problems)
    assert any("replicas" in p and "integer" in p for p in problems)
    claim = _document(manifests, "PersistentVolumeClaim")
    claim["spec"]["accessMode"] = ["ReadWriteMany"]
    assert any("accessMode" in p for p in validate.validate_document(validate.INFRA / "x.yaml", claim))


def test_bad_codemill_config_in_a_configmap_is_rejected(manifests):
    config_map = _document(manifests, "ConfigMap")
    config_map["data"]["config.yaml"] += "train:\n  zero_stage: 5\n"
    problems = validate.validate_document(validate.INFRA / "x.yaml", config_map)
    assert any("zero_stage" in p for p in problems)


def test_broken_references_are_reported(manifests, dockerfiles, objects):
    app = _document(manifests, "SparkApplication")
    app["spec"]["mainApplicationFile"] = "local:///opt/codemill/jobs/no_such_job.py"
    app["spec"]["image"] = "localhost:5000/codemill-unknown:0.1.0"
    app["spec"]["driver"]["configMaps"][0]["name"] = "missing-config"
    app["spec"]["sparkVersion"] = "3.5.0"
    broken = validate.Manifest(validate.INFRA / "x.yaml", [app])
    problems = "\n".join(validate.reference_problems(broken, dockerfiles, objects))
    assert "codemill-unknown is built by no Dockerfile" in problems
    assert "'missing-config' is defined nowhere" in problems
    assert "differs from pyspark" in problems
    app["spec"]["image"] = "localhost:5000/codemill-spark:0.1.0"
    problems = "\n".join(validate.reference_problems(broken, dockerfiles, objects))
    assert "jobs/no_such_job.py, which does not exist" in problems


def test_flags_a_job_does_not_accept_and_gpu_mismatch_are_reported(manifests, dockerfiles, objects):
    job = _document(manifests, "RayJob")
    job["spec"]["entrypoint"] = job["spec"]["entrypoint"].replace("--run-name", "--run-nam") + " train.workers=3"
    job["spec"]["entrypoint"] = job["spec"]["entrypoint"].replace("train.workers=16", "")
    problems = "\n".join(validate.reference_problems(validate.Manifest(validate.INFRA / "x.yaml", [job]),
                                                     dockerfiles, objects))
    assert "does not accept --run-nam" in problems
    assert "train.workers=3 but the worker groups offer 16 GPUs" in problems


def test_baked_jars_skip_libraries_spark_already_ships():
    import importlib.util

    spec = importlib.util.spec_from_file_location("bake_jars", validate.INFRA / "spark" / "k8s" / "bake_jars.py")
    bake_jars = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bake_jars)
    # Ivy names jars group_artifact-version.jar, Spark's folder artifact-version.jar.
    assert bake_jars.artifact("org.apache.hadoop_hadoop-client-api-3.4.2.jar") == "hadoop-client-api"
    assert bake_jars.artifact("hadoop-client-api-3.5.0.jar") == "hadoop-client-api"
    assert bake_jars.artifact("io.delta_delta-spark_4.2_2.13-4.4.0.jar") == "delta-spark_4.2_2.13"
    assert bake_jars.artifact("com.github.luben_zstd-jni-1.5.7-3.jar") == "zstd-jni"
    assert bake_jars.artifact("spark-core_2.13-4.2.0.jar") == "spark-core_2.13"


def test_dockerfile_copy_sources_and_entrypoint_must_exist(tmp_path):
    text = (validate.INFRA / "spark" / "k8s" / "Dockerfile").read_text()
    text = text.replace("COPY jobs jobs", "COPY jobz jobs").replace("/opt/entrypoint.sh\nRUN", "/opt/other.sh\nRUN")
    broken = tmp_path / "Dockerfile"
    broken.write_text(text)
    problems = "\n".join(validate.dockerfile_problems(validate.parse_dockerfile(broken)))
    assert "COPY jobz: no such file in the repository" in problems
    assert "ENTRYPOINT /opt/entrypoint.sh: not copied into the image" in problems
