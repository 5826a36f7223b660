"""The check suite: each module holds one family of checks; `lightonocr_validation.check.registry` lists them all."""
