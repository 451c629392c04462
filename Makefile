# SPDX-License-Identifier: GPL-2.0
#
# The Rust kernel driver suite: rust_nvme, rust_9p and rust_agx, built as
# external modules against a CONFIG_RUST kernel tree (Kbuild reads `Kbuild`).
#
#   make LLVM=1                 build the three modules
#   make LLVM=1 check           host tests, then VM tests on the debug kernel
#   make LLVM=1 demo            boot a VM that loads and shows all three
#   make LLVM=1 help            everything else
#
# Without KDIR= a kernel tree is provisioned and cached (scripts/provision-kernel.sh);
# with KDIR=/path/to/your/tree nothing is provisioned.

SUITE := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))
FLAVOR ?= debug
CACHE_DIR := $(or $(RUST_SUITE_CACHE),$(or $(XDG_CACHE_HOME),$(HOME)/.cache)/rust-driver-suite)

# Host tools (cargo for the host tests) keep the caller's PATH; the kernel side
# of a provisioned tree uses Debian's rustc (with rust-src) and LLVM 22.
HOST_PATH := $(PATH)
ifeq ($(origin KDIR),undefined)
kdir_cmd = $(SUITE)/scripts/provision-kernel.sh $(1)
export PATH := /usr/lib/llvm-22/bin:/usr/bin:$(CACHE_DIR)/tools/bin:$(PATH)
else
kdir_cmd = echo $(KDIR)
endif

# Runs a Kbuild target on the tree of flavor $(1), after checking the tree and
# the toolchain fit together.
kbuild = kdir=$$($(call kdir_cmd,$(1))) && \
	$(SUITE)/scripts/check-kdir.sh "$$kdir" "$(LLVM)" && \
	$(MAKE) -C "$$kdir" M=$(SUITE)

rust_sources = $(shell cd $(SUITE) && git ls-files --cached --others --exclude-standard '*.rs' 2>/dev/null || \
	find abstractions rust_nvme rust_9p rust_agx tests host -name '*.rs' ! -name '*generated*')

.PHONY: all modules modules_install clean kdir rustfmt rustfmtcheck rust-analyzer \
	rustdoc check host-test test-modules demo help bench-nvme bench-9p bench-agx

all: modules

modules:
	+@$(call kbuild,$(FLAVOR)) modules

# The deliberately faulty modules of the harness self-test, with the suite.
test-modules:
	+@$(call kbuild,$(FLAVOR)) SUITE_TEST_MODULES=1 modules

modules_install:
	+@$(call kbuild,$(FLAVOR)) modules_install

# Cleaning never provisions: without a built tree there is no Kbuild output.
clean:
	+@if kdir=$$($(if $(KDIR),echo $(KDIR),$(SUITE)/scripts/provision-kernel.sh $(FLAVOR) --lookup) 2>/dev/null) && [ -d "$$kdir" ]; then \
		$(MAKE) -C "$$kdir" M=$(SUITE) SUITE_TEST_MODULES=1 clean; fi
	@rm -rf $(SUITE)/generated $(SUITE)/Documentation/output \
		$(SUITE)/out $(SUITE)/rust-project.json
	@cd $(SUITE)/host && cargo clean -q 2>/dev/null || true

kdir:
	@$(call kdir_cmd,$(FLAVOR))

# The kernel's rustfmt targets cover only its own tree: same tool, same config.
rustfmt rustfmtcheck:
	@kdir=$$($(call kdir_cmd,$(FLAVOR))) && cd $(SUITE) && \
		rustfmt --config-path "$$kdir/source/.rustfmt.toml" $(if $(filter rustfmtcheck,$@),--check) $(rust_sources)

rust-analyzer:
	+@$(call kbuild,$(FLAVOR)) rust-analyzer
	@$(SUITE)/scripts/rust-analyzer.py $(SUITE)/rust-project.json

rustdoc: modules
	@$(SUITE)/scripts/rustdoc.py "$$($(call kdir_cmd,$(FLAVOR)))"

host-test:
	@cd $(SUITE)/host && PATH="$(HOST_PATH)" cargo test --quiet

check:
	+@PATH="$(HOST_PATH)" $(if $(KDIR),KDIR="$(KDIR)") $(SUITE)/scripts/check.sh

demo:
	+@$(MAKE) -s -C $(SUITE) test-modules
	@PATH="$(HOST_PATH)" $(SUITE)/scripts/build-vm-tools.sh
	@$(SUITE)/scripts/vm.py demo --kdir "$$($(call kdir_cmd,debug))"

# Benchmarks run on the perf flavor (no debugging aids), in one VM boot each.
bench-nvme:
	+@$(MAKE) -s -C $(SUITE) FLAVOR=perf modules
	@$(SUITE)/scripts/vm.py bench --kdir "$$($(call kdir_cmd,perf))" nvme

bench-9p:
	+@$(MAKE) -s -C $(SUITE) FLAVOR=perf modules
	@PATH="$(HOST_PATH)" $(SUITE)/scripts/build-vm-tools.sh
	@$(SUITE)/scripts/vm.py bench --kdir "$$($(call kdir_cmd,perf))" 9p

bench-agx:
	+@$(MAKE) -s -C $(SUITE) FLAVOR=perf modules
	@PATH="$(HOST_PATH)" $(SUITE)/scripts/build-vm-tools.sh
	@$(SUITE)/scripts/vm.py bench --kdir "$$($(call kdir_cmd,perf))" agx

help:
	@sed -n '3,13p' $(SUITE)/Makefile | sed 's/^# \{0,1\}//'
	@echo 'Other targets: modules_install clean kdir rustfmt rustfmtcheck rust-analyzer'
	@echo '               rustdoc host-test test-modules bench-nvme bench-9p bench-agx'
	@echo 'Variables: KDIR=<tree> (no provisioning)  FLAVOR=debug|perf  CLIPPY=1  V=1'
