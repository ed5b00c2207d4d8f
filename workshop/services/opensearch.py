"""The search node ZomboDB talks to: OpenSearch 2.19, from Maven Central, without Docker.

ZomboDB 3000 speaks Elasticsearch 7's API and needs two modules on the node: Painless (its
MVCC updates are scripts) and analysis-common (its default `truncate` filter and `pattern`
tokenizer). Elastic publishes neither module on Maven Central (its 7.17 integ-test zip
starts, then CREATE INDEX fails: "Unknown tokenizer type [pattern]", then "script_lang not
supported [painless]"); OpenSearch publishes both as jars. So the node is OpenSearch's
integ-test zip plus those jars, each module with the plugin descriptor its distribution
would carry, started with `compatibility.override_main_response_version=true` (it then
reports 7.10.2, which ZomboDB accepts).

It runs beside the Elasticsearch 8 node (its own port and folder, <state>/opensearch/),
through the same machinery (workshop/services/es_node.py, es_process.py): a service user
when we are root, 127.0.0.1 only, a checked pid record. The project's elasticsearch-py 8
client keeps talking to the Elasticsearch 8 node; only ZomboDB talks to this one.
"""

from __future__ import annotations

from pathlib import Path

from workshop.services import es_install, es_node
from workshop.services.child_env import allowed_env

VERSION = "2.19.6"
ZIP = f"org.opensearch.distribution.integ-test-zip:opensearch:{VERSION}:zip"
# module folder -> (its main class, the module it extends, its jars)
MODULES = {
    "lang-painless": (
        "org.opensearch.painless.PainlessPlugin",
        "",
        [
            f"org.opensearch.plugin:lang-painless:{VERSION}",
            f"org.opensearch.plugin:opensearch-scripting-painless-spi:{VERSION}",
            "org.antlr:antlr4-runtime:4.13.1",
            *(f"org.ow2.asm:{name}:9.7" for name in ("asm", "asm-util", "asm-tree", "asm-commons", "asm-analysis")),
        ],
    ),
    "analysis-common": (
        "org.opensearch.analysis.common.CommonAnalysisPlugin",
        "lang-painless",
        [f"org.opensearch.plugin:analysis-common:{VERSION}"],
    ),
}
# Painless compiles scripts into classes of its own loader (OpenSearch's module policy).
PAINLESS_POLICY = """grant {
  permission java.lang.RuntimePermission "createClassLoader";
  permission java.lang.RuntimePermission "getClassLoader";
};
"""
ENV_PORT = "WORKSHOP_OPENSEARCH_PORT"
DEFAULT_PORT = 9202  # beside the Elasticsearch 8 node's 9201
FIX = "install Maven (and Java 17+), or use docker-compose's zombodb profile"


def install(base: Path) -> Path:
    """<base>/opensearch-<version> with the two modules (the caller holds the lock)."""

    def fetch() -> None:
        es_install.fetch_with_maven(ZIP, FIX)

    def finish(home: Path) -> None:
        add_modules(home)
        without_gc_log(home / "config" / "jvm.options")

    return es_install.unpack_zip(
        base, f"opensearch-{VERSION}", "bin/opensearch", es_install.artifact_path(ZIP), fetch, finish
    )


def without_gc_log(jvm_options: Path) -> None:
    """Drop the GC log line: it writes logs/gc.log under the distribution (root's, read-only
    for the service user, so the JVM would not start) and up to 2 GB of it anyway."""
    lines = jvm_options.read_text().splitlines()
    jvm_options.write_text("\n".join(ln for ln in lines if "-Xlog:gc" not in ln) + "\n")


def add_modules(home: Path) -> None:
    """Copy each module's jars into modules/<name>/ with its plugin-descriptor.properties."""
    import shutil

    for name, (classname, extends, artifacts) in MODULES.items():
        folder = home / "modules" / name
        folder.mkdir(parents=True, exist_ok=True)
        for coords in artifacts:
            jar = es_install.artifact_path(coords)
            if not jar.is_file():
                es_install.fetch_with_maven(coords, FIX)
            shutil.copyfile(jar, folder / jar.name)
        (folder / "plugin-descriptor.properties").write_text(
            f"description=the {name} module, from Maven Central\nversion={VERSION}\nname={name}\n"
            f"classname={classname}\njava.version=11\nopensearch.version={VERSION}\n"
            f"extended.plugins={extends}\nhas.native.controller=false\ncustom.foldername=\n"
        )
        if name == "lang-painless":
            (folder / "plugin-security.policy").write_text(PAINLESS_POLICY)
        for path in [folder, *folder.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)


def child_env(java_home: Path, heap_mb: int, base: Path) -> dict[str, str]:
    """es_process.child_env's allow-list, with OpenSearch's variable names."""
    return allowed_env(
        set_={
            "OPENSEARCH_JAVA_HOME": str(java_home),
            "OPENSEARCH_JAVA_OPTS": f"-Xms{heap_mb}m -Xmx{heap_mb}m -XX:-HeapDumpOnOutOfMemoryError "
            "-Xlog:disable -Xlog:all=warning:stderr",
            "OPENSEARCH_TMPDIR": str(base / "tmp"),
            "OPENSEARCH_PATH_CONF": str(base / "config"),
            "HOME": str(base),
        }
    )


OPENSEARCH = es_node.Distribution(
    name="opensearch",
    version=VERSION,
    executable="bin/opensearch",
    env_port=ENV_PORT,
    default_port=DEFAULT_PORT,
    install=install,
    child_env=child_env,
    # ZomboDB reads the version the node reports and accepts 7.x: OpenSearch then says 7.10.2
    settings={"compatibility.override_main_response_version": "true"},
)


def start(home: Path | None = None, heap_mb: int = 512, timeout: float = 180) -> str:
    return es_node.start(home, heap_mb=heap_mb, timeout=timeout, dist=OPENSEARCH)


def stop(home: Path | None = None) -> bool:
    return es_node.stop(home, dist=OPENSEARCH)


def status(home: Path | None = None) -> dict | None:
    return es_node.status(home, dist=OPENSEARCH)


def url(home: Path | None = None) -> str | None:
    """The running node's URL with the trailing slash ZomboDB's index option wants."""
    found = status(home)
    return f"{found['url']}/" if found else None
