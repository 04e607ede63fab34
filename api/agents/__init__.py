"""Agents: service accounts that help through the public HTTP API only
(`quire agents run <name>`). They propose; humans decide."""
