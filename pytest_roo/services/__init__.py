"""Throwaway PostgreSQL and Redis for tests: Docker containers, local binaries or external
servers."""

from __future__ import annotations
