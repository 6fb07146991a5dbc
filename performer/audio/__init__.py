"""Audio: the block engine shared by live and offline paths, the safety stage, files."""
