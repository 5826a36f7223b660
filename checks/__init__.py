"""The check suite: each module holds one family of checks; `checks.registry` lists them all."""
