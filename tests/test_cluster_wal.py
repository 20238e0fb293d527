"""The embedded cluster's checkpoint and WAL settings (db/cluster.wal_settings)."""

from __future__ import annotations

from geo_crm.db.cluster import find_bindir, server_has_lz4, wal_settings


def test_a_new_cluster_spaces_checkpoints_and_compresses_full_page_images(sql):
    """The test session's cluster was made by LocalCluster.init, as every embedded one is."""
    assert sql("SHOW checkpoint_timeout").scalar_one() == "15min"
    assert sql("SHOW max_wal_size").scalar_one() == "4GB"
    expected = "lz4" if server_has_lz4(find_bindir()) else "off"
    assert sql("SHOW wal_compression").scalar_one() == expected


def test_no_lz4_setting_for_a_server_built_without_it(tmp_path):
    (tmp_path / "pg_config").write_text("#!/bin/sh\necho \"'--with-zstd'\"\n")
    (tmp_path / "pg_config").chmod(0o755)
    assert not server_has_lz4(tmp_path)
    assert wal_settings(tmp_path) == ["checkpoint_timeout = 15min", "max_wal_size = 4GB"]
    assert not server_has_lz4(tmp_path / "missing")
