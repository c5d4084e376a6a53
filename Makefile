# The two commands a newcomer needs (see README):
#   make lab    set up the course environment if needed, then open JupyterLab on lesson 00
#   make test   set up the course environment if needed, then run the whole test suite
# and the Chinese edition (README.zh-CN.md):
#   make lab-zh set up if needed, then open JupyterLab on the Chinese edition's lesson 00
.PHONY: lab lab-zh test setup

lab: setup
	bash scripts/lab.sh $(LAB_ARGS)

lab-zh: setup
	COURSE_START=zh/notebooks/00_welcome.ipynb bash scripts/lab.sh $(LAB_ARGS)

test: setup
	bash scripts/test.sh

setup:
	bash scripts/setup.sh
