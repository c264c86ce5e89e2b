"""The deploy kit: deploy/Dockerfile, deploy/docker-compose.yml and the Helm chart.

There is no Docker engine and no cluster here, so the kit is checked against what can be run: the
real `salespulse` binary (its flags, `check-config` on every configuration the kit ships or
renders), `helm lint` and `helm template`, `promtool check config` and `amtool check-config`, and
the files the kit mounts. What must agree across files (ports, the scrape job name, the topics,
the user id, the rule groups) is checked against the code's own answers, not against constants
repeated here.
"""

import base64
import json
import os
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from conftest import REPO, TOOLS, salespulse_binary, tool
from promql import dashboard_queries

DEPLOY = REPO / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
DOCKERFILE = DEPLOY / "Dockerfile"
CHART = DEPLOY / "helm" / "salespulse"
RULES = DEPLOY / "prometheus" / "rules"
CHART_RULES = CHART / "files" / "rules"

# The SASL credentials given to the chart in these tests.
SASL_USERNAME = "alice"
SASL_PASSWORD = "pa55-w0rd-never-printed"
SASL_VALUES = (f"kafka.sasl.username={SASL_USERNAME}", f"kafka.sasl.password={SASL_PASSWORD}")


# --- helpers -----------------------------------------------------------------------------------


def run(*args, env: dict[str, str] | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(arg) for arg in args],
        capture_output=True,
        text=True,
        timeout=120,
        env=None if env is None else {**os.environ, **env},
        cwd=cwd,
    )


def run_check_config(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`salespulse check-config --config path`, asserted to accept the file. Only the SALESPULSE_
    variables of `env` reach it, so the environment of the test run cannot change the answer."""
    clean = {name: value for name, value in os.environ.items() if not name.startswith("SALESPULSE_")}
    result = subprocess.run(
        [str(salespulse_binary()), "check-config", "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**clean, **(env or {})},
    )
    assert result.returncode == 0, f"check-config rejects {path}: {result.stderr}"
    return result


def check_config(path: Path, env: dict[str, str] | None = None) -> dict:
    """The effective configuration that check-config prints (TOML), parsed."""
    return tomllib.loads(run_check_config(path, env).stdout)


def listen_port(config: dict) -> int:
    host, _, port = config["http"]["listen"].rpartition(":")
    # In a container, Prometheus scrapes from another network namespace.
    assert host in ("0.0.0.0", "[::]"), f"[http] listen {host}: unreachable from other containers"
    return int(port)


def assert_flags_accepted(args: list[str]) -> None:
    """The binary parses `args` (subcommand, flags and their values): clap validates every argument
    before it acts on a trailing --help, so an unknown flag or a bad value exits 2."""
    result = run(salespulse_binary(), *args, "--help")
    assert result.returncode == 0, f"salespulse {' '.join(args)}: {result.stderr}"


def yaml_documents(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def rule_groups_of_files(directory: Path) -> list[dict]:
    """The rule groups of every *.yml file of `directory`, files in name order (Helm's order)."""
    groups = []
    for path in sorted(directory.glob("*.yml")):
        groups.extend(yaml.safe_load(path.read_text())["groups"])
    return groups


# --- 1. every YAML file parses ------------------------------------------------------------------


def deploy_yaml_files() -> list[Path]:
    # Helm templates are Go templates, not YAML; deploy/local/.work holds downloads.
    skipped = (CHART / "templates", DEPLOY / "local" / ".work")
    return sorted(
        path
        for pattern in ("*.yml", "*.yaml")
        for path in DEPLOY.rglob(pattern)
        if not any(path.is_relative_to(directory) for directory in skipped)
    )


def test_the_kit_files_are_among_the_yaml_files_checked():
    relative = {path.relative_to(DEPLOY).as_posix() for path in deploy_yaml_files()}
    assert {
        "docker-compose.yml",
        "compose/prometheus.yml",
        "compose/alertmanager.yml",
        "helm/salespulse/Chart.yaml",
        "helm/salespulse/values.yaml",
    } <= relative


@pytest.mark.parametrize("path", deploy_yaml_files(), ids=lambda p: p.relative_to(DEPLOY).as_posix())
def test_yaml_file_parses(path):
    documents = yaml_documents(path.read_text())
    assert documents, f"{path} holds no YAML document"


# --- 2 and 3. the Helm chart --------------------------------------------------------------------


@pytest.fixture(scope="session")
def helm() -> str:
    candidate = TOOLS / "bin" / "helm"
    found = str(candidate) if candidate.is_file() else shutil.which("helm")
    if found is None:
        pytest.skip("helm is not installed: deploy/local/tools.sh builds it when Go is present")
    return found


def helm_template(helm: str, *values: str, values_file: Path | None = None) -> list[dict]:
    args = [helm, "template", "sp", str(CHART), "--namespace", "sales"]
    for value in values:
        args += ["--set", value]
    if values_file is not None:
        args += ["--values", values_file]
    result = run(*args)
    assert result.returncode == 0, result.stderr
    return yaml_documents(result.stdout)


def helm_template_error(helm: str, *values: str, values_file: Path | None = None) -> str:
    """The error of a `helm template` that must fail."""
    args = [helm, "template", "sp", str(CHART), "--namespace", "sales"]
    for value in values:
        args += ["--set", value]
    if values_file is not None:
        args += ["--values", values_file]
    result = run(*args)
    assert result.returncode != 0, f"rendered, but should have failed: {values} {values_file}"
    return result.stderr


def by_kind(documents: list[dict]) -> dict[str, dict]:
    """One resource per kind (the default single replica); two of a kind is an error."""
    kinds = {}
    for document in documents:
        assert document["kind"] not in kinds, f"two {document['kind']} resources"
        kinds[document["kind"]] = document
    return kinds


@pytest.fixture(scope="session")
def chart(helm) -> dict[str, dict]:
    """The chart rendered with SASL credentials, by kind."""
    return by_kind(helm_template(helm, *SASL_VALUES))


@pytest.fixture(scope="session")
def chart_config(chart, tmp_path_factory) -> Path:
    """The ConfigMap's salespulse.toml, as a file."""
    path = tmp_path_factory.mktemp("chart") / "salespulse.toml"
    path.write_text(chart["ConfigMap"]["data"]["salespulse.toml"])
    return path


def container(chart: dict[str, dict]) -> dict:
    (only,) = chart["Deployment"]["spec"]["template"]["spec"]["containers"]
    return only


def test_helm_lint_passes(helm):
    two_replicas = ("replicas[0].name=a", "replicas[0].writeDeadletters=true", "replicas[1].name=b")
    variants = (
        (),
        SASL_VALUES,
        two_replicas,
        (*two_replicas, "state.url=s3://bucket/salespulse"),
        ("state.persistence.enabled=false",),
    )
    for values in variants:
        args = [helm, "lint", "--strict", str(CHART)]
        for value in values:
            args += ["--set", value]
        result = run(*args)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


def test_chart_renders_every_resource(helm, chart):
    core = {"Deployment", "PersistentVolumeClaim", "Service", "ConfigMap"}
    operator = {"PodMonitor", "PrometheusRule"}
    assert set(chart) == core | operator | {"Secret"}
    assert {chart[kind]["apiVersion"] for kind in operator} == {"monitoring.coreos.com/v1"}
    # Without credentials there is no Secret; without the operator, no operator resources.
    assert set(by_kind(helm_template(helm))) == core | operator
    without_operator = ("podMonitor.enabled=false", "prometheusRule.enabled=false")
    assert set(by_kind(helm_template(helm, *without_operator))) == core


def test_chart_app_version_is_the_binary_version():
    chart_yaml = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart_yaml["apiVersion"] == "v2"
    version = run(salespulse_binary(), "--version").stdout.split()
    assert version == ["salespulse", chart_yaml["appVersion"]]


def test_chart_rule_files_are_copies_of_the_rule_files():
    sources = sorted(path.name for path in RULES.glob("*.yml"))
    assert sources, f"no rule files in {RULES}"
    hint = "run deploy/helm/sync-rules.sh"
    assert sorted(path.name for path in CHART_RULES.glob("*.yml")) == sources, hint
    for name in sources:
        assert (CHART_RULES / name).read_bytes() == (RULES / name).read_bytes(), f"{name}: {hint}"


def test_sync_rules_script_reproduces_the_copies(tmp_path):
    # In a scratch copy of deploy/, so that the real chart is left alone.
    scratch = tmp_path / "deploy"
    shutil.copytree(DEPLOY / "prometheus" / "rules", scratch / "prometheus" / "rules")
    (scratch / "helm" / "salespulse" / "files" / "rules").mkdir(parents=True)
    stale = scratch / "helm" / "salespulse" / "files" / "rules" / "removed.yml"
    stale.write_text("groups: []\n")
    shutil.copy(DEPLOY / "helm" / "sync-rules.sh", scratch / "helm" / "sync-rules.sh")
    result = run("bash", scratch / "helm" / "sync-rules.sh")
    assert result.returncode == 0, result.stderr
    copies = scratch / "helm" / "salespulse" / "files" / "rules"
    assert sorted(p.name for p in copies.iterdir()) == sorted(p.name for p in RULES.glob("*.yml"))
    for path in RULES.glob("*.yml"):
        assert (copies / path.name).read_bytes() == path.read_bytes()


def test_prometheus_rule_has_the_groups_of_the_rule_files(chart):
    assert chart["PrometheusRule"]["spec"]["groups"] == rule_groups_of_files(RULES)


def test_threshold_override_changes_that_rule_only(helm):
    name = "threshold:lead_wait_seconds"
    rendered = by_kind(helm_template(helm, f"prometheusRule.thresholds.{name}=vector(600)"))
    groups = rendered["PrometheusRule"]["spec"]["groups"]
    expected = rule_groups_of_files(RULES)
    changed = [
        (group["name"], rule, original)
        for group, original_group in zip(groups, expected, strict=True)
        for rule, original in zip(group["rules"], original_group["rules"], strict=True)
        if rule != original
    ]
    assert len(changed) == 1
    group, rule, original = changed[0]
    assert group == "salespulse-thresholds"
    assert rule == {**original, "expr": "vector(600)"}
    assert original["record"] == name and original["expr"] != "vector(600)"


def test_runbook_base_url_moves_every_runbook_link_and_keeps_its_section(helm):
    base = "https://wiki.example/runbooks"
    rendered = by_kind(helm_template(helm, f"prometheusRule.runbookBaseUrl={base}"))
    groups = rendered["PrometheusRule"]["spec"]["groups"]
    alerts = {}
    for group, original_group in zip(groups, rule_groups_of_files(RULES), strict=True):
        for rule, original in zip(group["rules"], original_group["rules"], strict=True):
            if "alert" not in rule:
                assert rule == original
                continue
            section = original["annotations"]["runbook_url"].split("#", 1)[1]
            alerts[rule["alert"]] = rule["annotations"]["runbook_url"]
            # Only the link's prefix changes.
            expected_annotations = {**original["annotations"], "runbook_url": f"{base}#{section}"}
            assert rule == {**original, "annotations": expected_annotations}
    assert len(alerts) == 10
    assert alerts["SalesLeadWaitingTooLong"] == "https://wiki.example/runbooks#salesleadwaitingtoolong"
    assert alerts["SalespulseDown"] == "https://wiki.example/runbooks#salespulsedown"


def test_default_runbook_base_url_is_the_one_of_the_rule_files():
    # The rule files link the repository's docs/runbooks.md; the chart's default must be that same
    # prefix, so that by default the PrometheusRule equals the files.
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    prefixes = {
        rule["annotations"]["runbook_url"].split("#", 1)[0]
        for group in rule_groups_of_files(RULES)
        for rule in group["rules"]
        if "alert" in rule
    }
    assert prefixes == {values["prometheusRule"]["runbookBaseUrl"]}
    assert values["prometheusRule"]["runbookBaseUrl"] == "https://github.com/salespulse/salespulse/blob/main/docs/runbooks.md"


def test_unknown_threshold_is_an_error(helm):
    typo = "prometheusRule.thresholds.threshold:lead_wait_secs=vector(1)"
    result = run(helm, "template", "sp", CHART, "--set", typo)
    assert result.returncode != 0
    assert "threshold:lead_wait_secs is not a recording rule" in result.stderr


def test_config_map_is_accepted_and_its_port_is_the_service_and_probe_port(chart, chart_config):
    config = check_config(chart_config)
    port = listen_port(config)
    ports = container(chart)["ports"]
    assert ports == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    (service_port,) = chart["Service"]["spec"]["ports"]
    assert (service_port["port"], service_port["targetPort"]) == (port, "http")
    probes = {name: container(chart)[name]["httpGet"] for name in ("livenessProbe", "readinessProbe")}
    assert probes == {
        "livenessProbe": {"path": "/healthz", "port": "http"},
        "readinessProbe": {"path": "/readyz", "port": "http"},
    }
    # The brokers and topics come from values.yaml.
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert config["kafka"]["brokers"] == values["kafka"]["brokers"]
    assert config["kafka"]["topics"] == values["kafka"]["topics"]


def test_config_value_is_the_rest_of_the_file(helm, tmp_path):
    # values.config carries the sections the chart does not render, e.g. a roster seed.
    values = tmp_path / "values.yaml"
    values.write_text(
        yaml.safe_dump(
            {
                "config": '[business]\ntimezone = "Europe/Berlin"\n\n'
                '[[roster]]\nrep_id = "r-001"\nteam = "east"\nrole = "bdr"\n'
            }
        )
    )
    rendered = by_kind(helm_template(helm, values_file=values))
    config_file = tmp_path / "salespulse.toml"
    config_file.write_text(rendered["ConfigMap"]["data"]["salespulse.toml"])
    config = check_config(config_file)
    assert config["business"]["timezone"] == "Europe/Berlin"
    assert [(r["rep_id"], r["team"], r["role"]) for r in config["roster"]] == [("r-001", "east", "bdr")]
    assert listen_port(config) == 9898

    # A section the chart renders from values would be a duplicate table: refused at render time.
    values.write_text(yaml.safe_dump({"config": '[kafka.properties]\n"client.id" = "x"\n'}))
    result = run(helm, "template", "sp", CHART, "--values", values)
    assert result.returncode != 0
    assert "config: [kafka], [http] and [state] are rendered from the kafka, http and state values" in result.stderr

def test_container_runs_the_service_with_the_mounted_config(chart):
    args = container(chart)["args"]
    assert args[0] == "run"
    assert_flags_accepted(args)
    config_path = Path(args[args.index("--config") + 1])
    mounts = {mount["name"]: mount for mount in container(chart)["volumeMounts"]}
    pod = chart["Deployment"]["spec"]["template"]["spec"]
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    (config_volume,) = [name for name, volume in volumes.items() if "configMap" in volume]
    assert volumes[config_volume]["configMap"]["name"] == chart["ConfigMap"]["metadata"]["name"]
    assert Path(mounts[config_volume]["mountPath"]) / config_path.name == config_path
    assert config_path.name in chart["ConfigMap"]["data"]


def test_sasl_credentials_reach_the_config_as_masked_properties(chart, chart_config):
    env = {var["name"]: var["valueFrom"]["secretKeyRef"] for var in container(chart)["env"] if "valueFrom" in var}
    assert set(env) == {"SALESPULSE_KAFKA__PROPERTIES__SASL_USERNAME", "SALESPULSE_KAFKA__PROPERTIES__SASL_PASSWORD"}
    secret = chart["Secret"]
    assert {ref["name"] for ref in env.values()} == {secret["metadata"]["name"]}
    values = {name: base64.b64decode(secret["data"][ref["key"]]).decode() for name, ref in env.items()}
    assert sorted(values.values()) == sorted([SASL_USERNAME, SASL_PASSWORD])

    result = run_check_config(chart_config, values)
    assert SASL_PASSWORD not in result.stdout + result.stderr
    properties = tomllib.loads(result.stdout)["kafka"]["properties"]
    assert properties["sasl.username"] == SASL_USERNAME
    assert properties["sasl.password"] == "****"
    assert properties["security.protocol"] == "SASL_SSL"


def test_existing_secret_is_referenced_not_created(helm):
    rendered = by_kind(helm_template(helm, "kafka.sasl.existingSecret=kafka-credentials"))
    assert "Secret" not in rendered
    refs = [variable["valueFrom"]["secretKeyRef"] for variable in container(rendered)["env"] if "valueFrom" in variable]
    assert refs == [
        {"name": "kafka-credentials", "key": "username"},
        {"name": "kafka-credentials", "key": "password"},
    ]


def test_pod_runs_as_the_image_user_on_a_read_only_root(chart, chart_config):
    pod = chart["Deployment"]["spec"]["template"]["spec"]
    assert chart["Deployment"]["spec"]["replicas"] == 1
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == dockerfile_user_id()
    assert container(chart)["securityContext"]["readOnlyRootFilesystem"] is True
    # The state directory must therefore be a mounted volume.
    state_dir = check_config(chart_config)["state"]["dir"]
    assert state_dir in {mount["mountPath"] for mount in container(chart)["volumeMounts"]}


def test_pod_monitor_scrapes_the_http_port_as_the_job_the_rules_select(chart):
    spec = chart["PodMonitor"]["spec"]
    pod_labels = chart["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert spec["selector"]["matchLabels"].items() <= pod_labels.items()
    assert chart["Service"]["spec"]["selector"].items() <= pod_labels.items()
    (endpoint,) = spec["podMetricsEndpoints"]
    assert (endpoint["port"], endpoint["path"]) == ("http", "/metrics")
    jobs = [r["replacement"] for r in endpoint["relabelings"] if r.get("targetLabel") == "job"]
    assert jobs == sorted(rule_job_names()) == sorted(dashboard_job_names()) == ["salespulse"]
    # Replicas must differ by `instance` only, the label the rules de-duplicate them by.
    (dropped,) = [r["regex"] for r in endpoint["relabelings"] if r["action"] == "labeldrop"]
    assert all(re.fullmatch(dropped, label) for label in ("pod", "container", "endpoint"))


def rule_job_names() -> set[str]:
    """The `job` values the rule files select on."""
    names = set()
    for path in RULES.glob("*.yml"):
        names |= set(re.findall(r'\bjob\s*=\s*"([^"]+)"', path.read_text()))
    assert names, "the rules select no job"
    return names


def dashboard_job_names() -> set[str]:
    """The `job` values the Grafana dashboards' queries select on."""
    names = set()
    for path in (DEPLOY / "grafana" / "dashboards").glob("*.json"):
        for _, expr in dashboard_queries(json.loads(path.read_text())):
            names |= set(re.findall(r'\bjob\s*=\s*"([^"]+)"', expr))
    assert names, "the dashboards select no job"
    return names


def test_the_job_name_is_not_a_chart_value(helm):
    # The rules and the dashboards select job="salespulse": the chart offers no way to rename it.
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert "jobName" not in values["podMonitor"]
    rendered = by_kind(helm_template(helm, "podMonitor.jobName=other"))
    (endpoint,) = rendered["PodMonitor"]["spec"]["podMetricsEndpoints"]
    assert [r["replacement"] for r in endpoint["relabelings"] if r.get("targetLabel") == "job"] == ["salespulse"]


# --- 3b. the replicas: each its own consumer group, dead-letter role and state ------------------
#
# The expected names below are written out by hand from the chart's contract: release "sp" and
# chart "salespulse" give the fullname "sp-salespulse"; replica <name> is the Deployment
# sp-salespulse-<name>, the consumer group salespulse-<name> (kafka.groupId "salespulse") and the
# claim sp-salespulse-<name>-state.

HA_REPLICAS = [{"name": "a", "writeDeadletters": True}, {"name": "b"}]
STATE_DIR = "/var/lib/salespulse"


def values_file(tmp_path: Path, values: dict) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def kinds(documents: list[dict]) -> dict[str, list[dict]]:
    """Every resource by kind, in rendering order."""
    grouped: dict[str, list[dict]] = {}
    for document in documents:
        grouped.setdefault(document["kind"], []).append(document)
    return grouped


def deployments(documents: list[dict]) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == "Deployment"}


def claims(documents: list[dict]) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in documents if d["kind"] == "PersistentVolumeClaim"}


def plain_env(deployment: dict) -> dict[str, str]:
    """The container's environment variables with a literal value; each name at most once (the
    last of two equal names would silently win)."""
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    names = [variable["name"] for variable in only.get("env", [])]
    assert len(names) == len(set(names)), f"duplicate environment variables: {names}"
    return {variable["name"]: variable["value"] for variable in only.get("env", []) if "value" in variable}


def state_volume(deployment: dict) -> dict:
    """The volume mounted at [state] dir."""
    pod = deployment["spec"]["template"]["spec"]
    (only,) = pod["containers"]
    (name,) = [mount["name"] for mount in only["volumeMounts"] if mount["mountPath"] == STATE_DIR]
    (volume,) = [volume for volume in pod["volumes"] if volume["name"] == name]
    return {key: value for key, value in volume.items() if key != "name"}


def effective_config(documents: list[dict], deployment: dict, tmp_path: Path) -> dict:
    """What `check-config` says this replica runs with: the ConfigMap's file and the Deployment's
    environment."""
    (config_map,) = [d for d in documents if d["kind"] == "ConfigMap"]
    path = tmp_path / f"{deployment['metadata']['name']}.toml"
    path.write_text(config_map["data"]["salespulse.toml"])
    return check_config(path, plain_env(deployment))


def test_default_is_replica_a_with_its_group_the_dead_letters_and_a_claim(helm, tmp_path):
    documents = helm_template(helm)
    (name,) = deployments(documents)
    assert name == "sp-salespulse-a"
    deployment = deployments(documents)[name]
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}

    config = effective_config(documents, deployment, tmp_path)
    assert config["kafka"]["group_id"] == "salespulse-a"
    assert config["kafka"]["write_deadletters"] is True
    assert (config["state"]["dir"], config["state"]["url"]) == (STATE_DIR, "")

    assert list(claims(documents)) == ["sp-salespulse-a-state"]
    assert claims(documents)["sp-salespulse-a-state"]["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "5Gi"}},
    }
    assert state_volume(deployment) == {"persistentVolumeClaim": {"claimName": "sp-salespulse-a-state"}}

    # The shared file leaves the per-replica keys to the environment: one source for each.
    (config_map,) = kinds(documents)["ConfigMap"]
    shared = tomllib.loads(config_map["data"]["salespulse.toml"])
    assert "group_id" not in shared["kafka"] and "write_deadletters" not in shared["kafka"]
    assert shared["state"] == {"dir": STATE_DIR}


def test_two_replicas_have_their_own_group_and_claim_and_one_writes_dead_letters(helm, tmp_path):
    documents = helm_template(helm, values_file=values_file(tmp_path, {"replicas": HA_REPLICAS}))
    expected = {
        # Deployment: (consumer group, writes dead letters, claim)
        "sp-salespulse-a": ("salespulse-a", True, "sp-salespulse-a-state"),
        "sp-salespulse-b": ("salespulse-b", False, "sp-salespulse-b-state"),
    }
    assert set(deployments(documents)) == set(expected)
    assert set(claims(documents)) == {claim for _, _, claim in expected.values()}
    for name, (group, writes, claim) in expected.items():
        deployment = deployments(documents)[name]
        assert (deployment["spec"]["replicas"], deployment["spec"]["strategy"]) == (1, {"type": "Recreate"})
        config = effective_config(documents, deployment, tmp_path)
        assert (config["kafka"]["group_id"], config["kafka"]["write_deadletters"]) == (group, writes), name
        assert (config["state"]["dir"], config["state"]["url"]) == (STATE_DIR, ""), name
        assert state_volume(deployment) == {"persistentVolumeClaim": {"claimName": claim}}, name


def test_service_and_pod_monitor_select_every_replica_and_each_deployment_its_own(helm, tmp_path):
    documents = helm_template(helm, values_file=values_file(tmp_path, {"replicas": HA_REPLICAS}))
    rendered = kinds(documents)
    pod_labels = {
        name: deployment["spec"]["template"]["metadata"]["labels"]
        for name, deployment in deployments(documents).items()
    }
    assert len(pod_labels) == 2
    (service,) = rendered["Service"]
    (pod_monitor,) = rendered["PodMonitor"]
    for labels in pod_labels.values():
        assert service["spec"]["selector"].items() <= labels.items()
        assert pod_monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    # Each Deployment owns its own pods only: overlapping selectors make controllers fight.
    for name, deployment in deployments(documents).items():
        selector = deployment["spec"]["selector"]["matchLabels"].items()
        selected = [other for other, labels in pod_labels.items() if selector <= labels.items()]
        assert selected == [name]
    assert pod_labels["sp-salespulse-a"]["salespulse/replica"] == "a"
    assert pod_labels["sp-salespulse-b"]["salespulse/replica"] == "b"


@pytest.mark.parametrize("url", ["s3://bucket/salespulse", "s3://bucket/salespulse/"])
def test_state_url_gives_each_replica_its_own_prefix_and_no_claim(helm, tmp_path, url):
    values = {"replicas": HA_REPLICAS, "state": {"url": url}}
    documents = helm_template(helm, values_file=values_file(tmp_path, values))
    assert claims(documents) == {}
    expected = {
        "sp-salespulse-a": ("salespulse-a", True, "s3://bucket/salespulse/a"),
        "sp-salespulse-b": ("salespulse-b", False, "s3://bucket/salespulse/b"),
    }
    assert set(deployments(documents)) == set(expected)
    for name, (group, writes, state_url) in expected.items():
        deployment = deployments(documents)[name]
        config = effective_config(documents, deployment, tmp_path)
        assert (config["kafka"]["group_id"], config["kafka"]["write_deadletters"]) == (group, writes), name
        assert config["state"]["url"] == state_url, name
        # The directory is unused then, but stays writable on the read-only root.
        assert state_volume(deployment) == {"emptyDir": {}}, name


def test_without_persistence_or_url_the_state_is_an_empty_dir(helm, tmp_path):
    documents = helm_template(helm, "state.persistence.enabled=false")
    assert claims(documents) == {}
    (deployment,) = deployments(documents).values()
    assert state_volume(deployment) == {"emptyDir": {}}
    config = effective_config(documents, deployment, tmp_path)
    assert (config["kafka"]["group_id"], config["state"]["dir"], config["state"]["url"]) == (
        "salespulse-a",
        STATE_DIR,
        "",
    )


def test_persistence_values_reach_every_claim(helm, tmp_path):
    values = {
        "replicas": HA_REPLICAS,
        "state": {
            "persistence": {
                "size": "20Gi",
                "storageClassName": "fast-ssd",
                "annotations": {"helm.sh/resource-policy": "keep"},
            }
        },
    }
    documents = helm_template(helm, values_file=values_file(tmp_path, values))
    assert set(claims(documents)) == {"sp-salespulse-a-state", "sp-salespulse-b-state"}
    for name, claim in claims(documents).items():
        assert claim["spec"] == {
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": "fast-ssd",
            "resources": {"requests": {"storage": "20Gi"}},
        }, name
        assert claim["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}, name
    # "-" is the explicit empty class (a pre-provisioned volume), not the cluster's default.
    (claim,) = claims(helm_template(helm, "state.persistence.storageClassName=-")).values()
    assert claim["spec"]["storageClassName"] == ""


@pytest.mark.parametrize(
    "values, message",
    [
        pytest.param(
            {"replicas": [{"name": "a", "writeDeadletters": True}, {"name": "a"}]},
            'replicas: the name "a" is used twice (replicas[0] and replicas[1])',
            id="repeated-name",
        ),
        pytest.param({"replicas": []}, "replicas is empty: list at least one replica", id="empty"),
        pytest.param({"replicas": None}, "replicas is empty: list at least one replica", id="null"),
        pytest.param(
            {"replicas": [{"name": "a"}, {"name": "b"}]},
            "replicas: no replica writes the dead-letter topic sales.deadletter; set writeDeadletters: "
            "true on exactly one",
            id="no-writer",
        ),
        pytest.param(
            {"replicas": [{"name": "a", "writeDeadletters": True}, {"name": "b", "writeDeadletters": True}]},
            "replicas: a, b all set writeDeadletters: true; set it on exactly one, since every replica "
            "sees every message",
            id="two-writers",
        ),
        pytest.param(
            {"replicas": [{"name": "A_1", "writeDeadletters": True}]},
            'replicas[0]: name "A_1" is not a DNS label',
            id="bad-name",
        ),
        pytest.param(
            {"replicas": [{"writeDeadletters": True}]},
            'replicas[0]: name "" is not a DNS label',
            id="no-name",
        ),
        pytest.param(
            {"replicas": [{"name": "a", "writeDeadLetters": True}]},
            "replicas[0]: unknown key writeDeadLetters",
            id="misspelt-key",
        ),
        pytest.param(
            {"replicas": [{"name": "a", "writeDeadletters": "yes"}]},
            "replicas[0].writeDeadletters must be true or false",
            id="not-a-boolean",
        ),
        pytest.param({"replicaCount": 2}, "replicaCount is gone: list the replicas instead", id="replicaCount"),
        pytest.param({"strategy": {"type": "RollingUpdate"}}, "strategy is gone", id="strategy"),
        pytest.param({"state": {"volume": {"emptyDir": {}}}}, "state.volume is gone", id="state-volume"),
        pytest.param(
            {"env": [{"name": "SALESPULSE_KAFKA__GROUP_ID", "value": "shared"}]},
            "env: SALESPULSE_KAFKA__GROUP_ID is set for each replica by the chart",
            id="env-group-id",
        ),
        pytest.param(
            {"state": {"url": "bucket/salespulse"}},
            'state.url "bucket/salespulse" is not a URL',
            id="url-without-scheme",
        ),
    ],
)
def test_values_that_break_the_replica_model_fail_the_render(helm, tmp_path, values, message):
    error = helm_template_error(helm, values_file=values_file(tmp_path, values))
    assert message in error


def rendered_notes(helm: str, tmp_path: Path, values: dict) -> str:
    """NOTES.txt as `helm install` prints it. `helm template` does not render the notes and there
    is no cluster here, so a scratch copy of the chart renders the same text through `tpl`."""
    scratch = tmp_path / "chart"
    shutil.copytree(CHART, scratch, dirs_exist_ok=True)
    (scratch / "files" / "notes.txt").write_text((CHART / "templates" / "NOTES.txt").read_text())
    (scratch / "templates" / "notes-preview.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: notes}\n"
        'data:\n  notes: {{ tpl (.Files.Get "files/notes.txt") . | toJson }}\n'
    )
    args = [helm, "template", "sp", scratch, "--namespace", "sales", "--show-only", "templates/notes-preview.yaml"]
    result = run(*args, "--values", values_file(tmp_path, values))
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)["data"]["notes"]


def test_notes_list_each_replica_with_its_group_and_state(helm, tmp_path):
    notes = rendered_notes(helm, tmp_path, {"replicas": HA_REPLICAS})
    assert "sp-salespulse-a: consumer group salespulse-a, state in PersistentVolumeClaim sp-salespulse-a-state; writes the dead letters to sales.deadletter\n" in notes
    assert "sp-salespulse-b: consumer group salespulse-b, state in PersistentVolumeClaim sp-salespulse-b-state\n" in notes
    assert "One replica" not in notes and "emptyDir" not in notes

    notes = rendered_notes(helm, tmp_path, {"state": {"url": "s3://bucket/salespulse"}})
    assert "sp-salespulse-a: consumer group salespulse-a, state in s3://bucket/salespulse/a;" in notes
    assert "For high availability add a second one" in notes
    assert "replicas: [{name: a, writeDeadletters: true}, {name: b}]" in notes

    notes = rendered_notes(helm, tmp_path, {"state": {"persistence": {"enabled": False}}})
    assert "state in an emptyDir;" in notes
    assert "each start rebuilds it from the earliest retained offsets" in notes


# --- 4. the compose stack ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def bind_mounts(service: dict) -> dict[str, Path]:
    """Container path -> host path (relative paths are relative to the compose file)."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            mounts[target] = (COMPOSE_FILE.parent / source).resolve()
    return mounts


def unescape(text: str) -> str:
    """Compose's `$$` is a literal `$`."""
    return text.replace("$$", "$")


def test_compose_has_the_whole_stack(compose):
    stack = {"kafka", "salespulse", "simulator", "prometheus", "alertmanager", "grafana"}
    assert stack <= set(compose["services"])


def test_compose_mounts_exist_and_volumes_are_declared(compose):
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (COMPOSE_FILE.parent / source).exists(), f"{name}: {source} does not exist"
            else:
                assert source in compose.get("volumes", {}), f"{name}: volume {source} is not declared"
        if "build" in service:
            context = (COMPOSE_FILE.parent / service["build"]["context"]).resolve()
            assert context == REPO
            assert (context / service["build"]["dockerfile"]).resolve() == DOCKERFILE


def test_compose_environment_values_are_text_or_numbers(compose):
    # The compose schema rejects a bare YAML boolean as an environment value ("true" must be quoted).
    for name, service in compose["services"].items():
        for variable, value in service.get("environment", {}).items():
            assert isinstance(value, (str, int)) and not isinstance(value, bool), f"{name}: {variable}"

def test_compose_ports_are_published_on_localhost_only(compose):
    published = [port for service in compose["services"].values() for port in service.get("ports", [])]
    assert len(published) >= 5
    assert all(port.startswith("127.0.0.1:") for port in published), published


@pytest.fixture(scope="session")
def compose_salespulse_config(compose) -> dict:
    """The effective configuration of the compose salespulse: its mounted file and environment."""
    service = compose["services"]["salespulse"]
    config_path = Path(service["command"][service["command"].index("--config") + 1])
    host = bind_mounts(service)[str(config_path)]
    env = {name: str(value) for name, value in service.get("environment", {}).items()}
    return check_config(host, env)


def test_compose_salespulse_is_configured_for_the_stack(compose, compose_salespulse_config):
    service = compose["services"]["salespulse"]
    assert service["command"][0] == "run"
    assert_flags_accepted(service["command"])
    assert compose_salespulse_config["kafka"]["brokers"] == "kafka:9092"
    port = listen_port(compose_salespulse_config)
    assert service["ports"] == [f"127.0.0.1:{port}:{port}"]


def test_compose_creates_the_configured_topics(compose, compose_salespulse_config):
    script = unescape(compose["services"]["kafka-init"]["command"][0])
    created = re.findall(r"--topic (\S+)", script)
    kafka = compose_salespulse_config["kafka"]
    assert sorted(created) == sorted([*kafka["topics"], kafka["deadletter_topic"]])
    assert re.search(r"--topic sales\.roster --config cleanup\.policy=compact\s*$", script, re.MULTILINE)
    listeners = compose["services"]["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"]
    assert "PLAINTEXT://kafka:9092" in listeners.split(",")


def test_compose_simulator_command_is_accepted(compose, tmp_path):
    service = compose["services"]["simulator"]
    assert service["entrypoint"] == ["/bin/sh", "-c"]
    (script,) = service["command"]
    # The same shell command, with the binary on the PATH and --help appended: the seed
    # expression expands and every flag and value is validated, and nothing is produced.
    env = {"PATH": f"{salespulse_binary().parent}:{os.environ['PATH']}"}
    result = run("/bin/sh", "-c", unescape(script) + " --help", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Usage: salespulse simulate" in result.stdout
    assert "--brokers kafka:9092" in script


def test_compose_simulator_and_service_share_the_image(compose):
    services = compose["services"]
    assert services["salespulse"]["image"] == services["simulator"]["image"] == "salespulse:local"
    assert services["salespulse"]["build"] == services["simulator"]["build"]


def config_file_flag(service: dict) -> str:
    """The --config.file of a Prometheus or Alertmanager service."""
    (flag,) = [arg for arg in service["command"] if arg.startswith("--config.file=")]
    return flag.split("=", 1)[1]


def test_prometheus_config_passes_promtool_and_scrapes_salespulse(
    compose, compose_salespulse_config, tmp_path
):
    service = compose["services"]["prometheus"]
    config_target = config_file_flag(service)
    # The container's files at the same paths relative to the config file, as Prometheus sees them.
    config_dir = Path(config_target).parent
    for target, host in bind_mounts(service).items():
        local = tmp_path / Path(target).relative_to(config_dir)
        if host.is_dir():
            shutil.copytree(host, local)
        else:
            shutil.copy(host, local)
    result = run(tool("promtool"), "check", "config", tmp_path / Path(config_target).name)
    assert result.returncode == 0, result.stdout + result.stderr
    rule_files = len(list(RULES.glob("*.yml")))
    assert f"SUCCESS: {rule_files} rule files found" in result.stdout

    prometheus = yaml.safe_load((tmp_path / Path(config_target).name).read_text())
    jobs = {job["job_name"]: job for job in prometheus["scrape_configs"]}
    assert set(jobs) >= rule_job_names()
    (job_name,) = rule_job_names()
    (target,) = jobs[job_name]["static_configs"][0]["targets"]
    host, port = target.split(":")
    assert host == "salespulse" and int(port) == listen_port(compose_salespulse_config)
    (alertmanager,) = prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    assert alertmanager == "alertmanager:9093"
    assert "127.0.0.1:9093:9093" in compose["services"]["alertmanager"]["ports"]


def test_alertmanager_config_passes_amtool(compose):
    service = compose["services"]["alertmanager"]
    result = run(tool("amtool"), "check-config", bind_mounts(service)[config_file_flag(service)])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_grafana_provisioning_matches_the_stack(compose):
    service = compose["services"]["grafana"]
    mounts = bind_mounts(service)
    provisioning = mounts["/etc/grafana/provisioning"]
    assert provisioning == (DEPLOY / "grafana" / "provisioning").resolve()
    provisioned = [
        document
        for path in sorted(provisioning.rglob("*.y*ml"))
        for document in yaml_documents(path.read_text())
    ]
    (provider,) = [p for document in provisioned for p in document.get("providers", [])]
    dashboards_host = mounts[provider["options"]["path"]]
    assert dashboards_host == (DEPLOY / "grafana" / "dashboards").resolve()
    assert list(dashboards_host.glob("*.json"))
    (datasource,) = [d for document in provisioned for d in document.get("datasources", [])]
    assert datasource["url"] == "http://prometheus:9090"
    assert "127.0.0.1:9090:9090" in compose["services"]["prometheus"]["ports"]
    prometheus = yaml.safe_load((DEPLOY / "compose" / "prometheus.yml").read_text())
    assert datasource["jsonData"]["timeInterval"] == prometheus["global"]["scrape_interval"]
    env = service["environment"]
    assert (env["GF_AUTH_ANONYMOUS_ENABLED"], env["GF_AUTH_ANONYMOUS_ORG_ROLE"]) == ("true", "Viewer")
    home = Path(env["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"])
    assert (dashboards_host / home.relative_to(provider["options"]["path"])).is_file()


# --- 5. the Dockerfile ---------------------------------------------------------------------------


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's stages, each a list of (INSTRUCTION, arguments), continuations joined."""
    logical, pending = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
        else:
            logical.append(pending + line)
            pending = ""
    stages = []
    for line in logical:
        instruction, _, arguments = line.strip().partition(" ")
        if instruction.upper() == "FROM":
            stages.append([])
        stages[-1].append((instruction.upper(), arguments.strip()))
    return stages


def instruction(stage: list[tuple[str, str]], name: str) -> list[str]:
    return [arguments for instruction_name, arguments in stage if instruction_name == name]


def dockerfile_user_id() -> int:
    (user,) = instruction(dockerfile_stages()[-1], "USER")
    return int(user.split(":")[0])


def test_dockerfile_builds_the_binary_and_runs_it_as_a_non_root_user():
    build, runtime = dockerfile_stages()
    assert instruction(build, "FROM") == ["rust:1.95-bookworm AS build"]
    (cargo,) = [run_ for run_ in instruction(build, "RUN") if "cargo build" in run_]
    assert "--release" in cargo and "--locked" in cargo and "-p salespulse" in cargo
    package = tomllib.loads((REPO / "crates" / "salespulse" / "Cargo.toml").read_text())["package"]["name"]
    assert package == "salespulse"
    assert instruction(runtime, "FROM") == ["debian:bookworm-slim"]
    assert dockerfile_user_id() == 10001
    assert any("useradd" in run_ and "--uid 10001" in run_ for run_ in instruction(runtime, "RUN"))
    assert "--from=build /out/salespulse /usr/local/bin/salespulse" in instruction(runtime, "COPY")
    assert instruction(runtime, "ENTRYPOINT") == ['["salespulse"]']


def test_dockerfile_default_config_cmd_and_port_agree_with_the_binary():
    runtime = dockerfile_stages()[-1]
    (cmd,) = instruction(runtime, "CMD")
    cmd = json.loads(cmd)
    assert cmd[0] == "run"
    assert_flags_accepted(cmd)
    config_path = cmd[cmd.index("--config") + 1]
    (source,) = [c.split()[0] for c in instruction(runtime, "COPY") if c.split()[-1] == config_path]
    config = check_config(REPO / source)
    assert instruction(runtime, "EXPOSE") == [str(listen_port(config))]


def test_docker_build_context_leaves_out_build_outputs():
    ignored = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()}
    assert {".git/", "target/", "deploy/local/.work/"} <= ignored



def test_runtime_image_installs_the_shared_libraries_the_binary_links():
    # The host is Debian like the runtime image: dpkg says which package provides each library
    # the binary needs. libc6 and libgcc-s1 are in every Debian image.
    if shutil.which("readelf") is None or shutil.which("dpkg") is None:
        pytest.skip("needs readelf and dpkg (a Debian host) to map libraries to packages")
    dynamic = run("readelf", "--dynamic", salespulse_binary()).stdout
    libraries = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)
    assert "libssl.so.3" in libraries
    packages = set()
    for library in libraries:
        owner = run("dpkg", "--search", f"*/{library}")
        assert owner.returncode == 0, f"no package provides {library}"
        packages |= {line.split(":")[0] for line in owner.stdout.splitlines()}
    installed = " ".join(instruction(dockerfile_stages()[-1], "RUN"))
    missing = {
        package
        for package in packages - {"libc6", "libgcc-s1"}
        if not re.search(rf"\s{re.escape(package)}(\s|$)", installed)
    }
    assert not missing, f"deploy/Dockerfile's runtime stage does not install {sorted(missing)}"
