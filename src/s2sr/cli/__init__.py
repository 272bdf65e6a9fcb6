"""Command-line interface: each module parses one command and calls one library function."""
