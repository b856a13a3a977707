# qcow2-tools: the two commands that do everything are
#   make run     build, make a demo image, show its `qemu-img check -M` map
#                (and what its enabled bitmap recorded)
#   make check   build, then every test suite (also under ASan/UBSan)
#
# `make run IMG=path` shows your own image instead of the demo.

BUILD ?= build
BUILD_SAN ?= build-san
DEMO_DIR ?= $(BUILD)/demo

.PHONY: all build run check check-unit check-san check-iotests \
        check-interop check-damaged docs clean distclean fuzz

all: build

$(BUILD)/build.ninja:
	./configure --builddir=$(BUILD)

build: $(BUILD)/build.ninja
	ninja -C $(BUILD)

$(BUILD_SAN)/build.ninja:
	./configure --builddir=$(BUILD_SAN) --enable-sanitizers

build-san: $(BUILD_SAN)/build.ninja
	ninja -C $(BUILD_SAN)

run: build
	@scripts/ensure-deps.sh test
ifdef IMG
	$(BUILD)/qemu-img info "$(IMG)"
	-$(BUILD)/qemu-img check -M "$(IMG)"
else
	@QEMU_IMG=$(BUILD)/qemu-img QEMU_IO=$(BUILD)/qemu-io scripts/make-demo.sh $(DEMO_DIR)
	cd $(DEMO_DIR) && ../qemu-img info --backing-chain demo.qcow2
	cd $(DEMO_DIR) && ../qemu-img check -M demo.qcow2
	cd $(DEMO_DIR) && ../qemu-img check -M --output=json demo.qcow2
	cd $(DEMO_DIR) && ../qemu-img map --bitmap backup-inc demo.qcow2
endif

# Every suite prints "N passed, N failed"; run-checks.sh adds them up
# and prints the total as its last line.
check:
	@scripts/ensure-deps.sh test
	@$(MAKE) --no-print-directory build build-san
	@scripts/run-checks.sh $(BUILD) $(BUILD_SAN)

# libFuzzer (clang, ASan+UBSan) in its own build directory: each target
# of tests/fuzz runs FUZZ_SECONDS seconds (docs/security.md).
BUILD_FUZZ ?= build-fuzz
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?= open info check check-map map read bitmaps

$(BUILD_FUZZ)/build.ninja:
	@scripts/ensure-deps.sh fuzz
	CC=clang meson setup -Dfuzzing=true -Db_sanitize=address,undefined \
	    -Db_lundef=false -Dc_args=-fsanitize=fuzzer-no-link \
	    $(BUILD_FUZZ) .

fuzz: $(BUILD_FUZZ)/build.ninja
	nice ninja -C $(BUILD_FUZZ) $(FUZZ_TARGETS:%=tests/fuzz/fuzz-%)
	tests/fuzz/run-fuzz.sh $(BUILD_FUZZ) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

docs: build
	cp $(BUILD)/qapi-reference.md $(BUILD)/qapi-introspect.json docs/

clean:
	-ninja -C $(BUILD) clean
	-ninja -C $(BUILD_SAN) clean

distclean:
	rm -rf $(BUILD) $(BUILD_SAN) $(BUILD_FUZZ)
