# The two commands a newcomer needs (see README):
#   make lab    set up the course environment if needed, then open JupyterLab on lesson 00
#   make test   set up the course environment if needed, then run the whole test suite
.PHONY: lab test setup

lab: setup
	bash scripts/lab.sh $(LAB_ARGS)

test: setup
	bash scripts/test.sh

setup:
	bash scripts/setup.sh
