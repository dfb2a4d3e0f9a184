"""The embedded PostgreSQL of `make run`: data directories it must refuse, and a server that
was killed (its lock file left behind) that the next run must get past."""

import os
import signal
import subprocess
import time

import psycopg
import pytest

from config.embedded_postgres import Cluster, EmbeddedPostgresError


def test_a_data_directory_of_another_major_version_is_refused_with_what_to_do(tmp_path):
    data = tmp_path / "postgres"
    data.mkdir()
    (data / "PG_VERSION").write_text("15\n")
    (data / "base").mkdir()

    with pytest.raises(EmbeddedPostgresError) as refused:
        Cluster(data).prepare()

    message = str(refused.value)
    assert "holds a PostgreSQL 15 database, but this store runs PostgreSQL 18" in message
    assert "pg_dump" in message and "make clean" in message
    assert sorted(path.name for path in data.iterdir()) == ["PG_VERSION", "base"]  # untouched


def test_a_folder_that_is_not_a_cluster_is_refused_and_kept(tmp_path):
    data = tmp_path / "postgres"
    data.mkdir()
    (data / "notes.txt").write_text("mine")

    with pytest.raises(EmbeddedPostgresError, match="holds no PostgreSQL database"):
        Cluster(data).prepare()
    assert (data / "notes.txt").read_text() == "mine"


def test_a_server_killed_with_sigkill_leaves_a_lock_the_next_start_recovers(tmp_path):
    # Durable, as `make run`'s is: a throwaway cluster may lose its last commits to SIGKILL.
    cluster = Cluster(tmp_path / "postgres")
    assert cluster.prepare() is True
    server = cluster.start(stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    cluster.ensure_database()
    with psycopg.connect(cluster.url(), autocommit=True) as connection:
        connection.execute("CREATE TABLE kept (note text)")
        connection.execute("INSERT INTO kept VALUES ('before the crash')")

    server.send_signal(signal.SIGKILL)
    server.wait()
    time.sleep(0.5)  # its backends notice the postmaster is gone and exit
    assert (cluster.data_dir / "postmaster.pid").exists()
    assert cluster.running_pid() is None

    assert cluster.prepare() is False  # existing data: not initialised again
    assert not (cluster.data_dir / "postmaster.pid").exists()
    restarted = cluster.start(stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        with psycopg.connect(cluster.url()) as connection:
            assert connection.execute("SELECT note FROM kept").fetchall() == [("before the crash",)]
    finally:
        cluster.stop()
        restarted.wait(timeout=20)


def test_a_lock_naming_a_pid_now_used_by_another_program_is_recovered(tmp_path):
    cluster = Cluster(tmp_path / "postgres", throwaway=True)
    cluster.prepare()
    # PostgreSQL would take a live pid in postmaster.pid for a running server and refuse.
    (cluster.data_dir / "postmaster.pid").write_text(f"{os.getpid()}\n{cluster.data_dir}\n")

    assert cluster.running_pid() is None
    assert cluster.recover_stale_lock() is True
    server = cluster.start(stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        assert cluster.running_pid() == server.pid
    finally:
        cluster.stop()
        server.wait(timeout=20)
