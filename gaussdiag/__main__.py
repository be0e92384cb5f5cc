from gaussdiag.cli import run

run()
