"""Exit codes (spec-v1), shared by every command and the error boundary. 124 for a spec that
ran past its wall-clock bound, as GNU `timeout` exits 124 when its command does; 143 for
SIGTERM (128 + 15), as the shell reports a process SIGTERM stopped."""

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_TIMED_OUT, EXIT_TERMINATED = 124, 143
