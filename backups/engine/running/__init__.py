"""Running a block: hooks, items and their actions, CSI snapshots, CRDs."""
