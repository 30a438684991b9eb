"""Planning the blocks: collect, filter and group a cluster's items into ItemBlocks."""
