"""One module per CLI verb; each imports the library inside the command."""
