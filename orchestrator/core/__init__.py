"""Pure policy: scheduling, retry maths, status reducer, schedule parsing. No I/O, no clock."""
