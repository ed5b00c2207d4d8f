"""docker-compose.yml's zombodb profile (PostgreSQL 15 + ZomboDB from source, Elasticsearch
7.17), checked as files: there is no Docker engine where the workshop is developed, so the
profile was never started here. The default services stay as they are."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
DOCKERFILE = (ROOT / "docker" / "zombodb" / "Dockerfile").read_text()


def test_the_profile_services_exist_and_only_start_with_the_profile():
    assert SERVICES["zombodb"]["profiles"] == ["zombodb"]
    assert SERVICES["elasticsearch7"]["profiles"] == ["zombodb"]
    for name in ("postgres", "elasticsearch"):  # the default stack is untouched by the profile
        assert "profiles" not in SERVICES[name]


def test_every_port_of_the_profile_is_bound_to_localhost_and_free_of_the_default_ones():
    default_ports = {p.split(":")[1] for name in ("postgres", "elasticsearch") for p in SERVICES[name]["ports"]}
    for name in ("zombodb", "elasticsearch7"):
        for port in SERVICES[name]["ports"]:
            host, published, _container = port.split(":")
            assert host == "127.0.0.1", f"{name} publishes {port} beyond this machine"
            assert published not in default_ports, f"{name} collides with the default stack on {published}"


def test_postgres_15_with_zombodb_built_from_the_source_release():
    build = SERVICES["zombodb"]["build"]
    assert build["context"] == "docker/zombodb" and build["args"]["PG_MAJOR"] == "15"
    assert re.search(r"^FROM postgres:\$\{PG_MAJOR\}-bookworm AS build$", DOCKERFILE, re.M)
    assert "ARG PG_MAJOR=15" in DOCKERFILE
    # a tagged source release (not a branch, not the sponsors' binaries), built with its pgrx
    assert "github.com/zombodb/zombodb/archive/refs/tags/v${ZOMBODB_VERSION}.tar.gz" in DOCKERFILE
    assert build["args"]["ZOMBODB_VERSION"] == "3000.2.8" and build["args"]["PGRX_VERSION"] == "0.13.1"
    assert "cargo install cargo-pgrx --version ${PGRX_VERSION} --locked" in DOCKERFILE
    # workshop zombodb build's recipe: a one-commit git repository, `cargo pgrx package`, the same features
    from workshop.services import zombodb_build

    assert build["args"]["ZOMBODB_VERSION"] == zombodb_build.ZOMBODB_VERSION
    assert build["args"]["PGRX_VERSION"] == zombodb_build.PGRX_VERSION
    assert build["args"]["PG_MAJOR"] == str(zombodb_build.PG_MAJOR)
    assert "git init -q && git add -A" in DOCKERFILE and "commit -q" in DOCKERFILE
    package = re.search(r"RUN cargo pgrx package ([^\n]*\\\n[^\n]*)", DOCKERFILE).group(1)
    flags = package.replace("${PG_MAJOR}", str(zombodb_build.PG_MAJOR)).split()
    assert " ".join(zombodb_build.FEATURES) in " ".join(flags)
    # the final image carries the extension's files, not the toolchain
    final = DOCKERFILE[DOCKERFILE.rindex("\nFROM ") :]
    assert "cargo" not in final.replace("COPY --from=build", "") and "zombodb*.so" in final
    init = (ROOT / "docker" / "zombodb" / "init-zombodb.sql").read_text()
    assert "CREATE EXTENSION IF NOT EXISTS zombodb" in init


def test_elasticsearch_7_17_for_zombodb_and_reachable_under_the_url_the_index_uses():
    from workshop.search import zombodb

    image = SERVICES["elasticsearch7"]["image"]
    assert re.fullmatch(r"docker\.elastic\.co/elasticsearch/elasticsearch:7\.17\.\d+", image)
    # ZomboDB (inside the zombodb container) reaches Elasticsearch by its service name
    assert zombodb.DOCKER_ES_URL == "http://elasticsearch7:9200/"
    assert SERVICES["zombodb"]["depends_on"]["elasticsearch7"]["condition"] == "service_healthy"


def test_the_profile_database_uses_trust_on_localhost_like_the_default_one_and_holds_no_secret():
    env = SERVICES["zombodb"]["environment"]
    assert env["POSTGRES_HOST_AUTH_METHOD"] == "trust" and "POSTGRES_PASSWORD" not in env
    assert env["POSTGRES_INITDB_ARGS"] == SERVICES["postgres"]["environment"]["POSTGRES_INITDB_ARGS"]
    assert "zombodb_pgdata" in COMPOSE["volumes"]
