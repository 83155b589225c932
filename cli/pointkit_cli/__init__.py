"""The Click layer of pointkit: parses options and calls the library; no logic lives here."""
