"""The release supervisor: per batch a task group with one task per FU, plus watchdogs."""
