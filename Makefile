# sparseclip - PGXS build.
#
#   make                  build the extension (add WERROR=1 for -Werror)
#   make install          install it into the PostgreSQL of PG_CONFIG, with the
#                         default model (models/default.safetensors) when present,
#                         as F32 (DEFAULT_MODEL_DTYPE=f16 keeps it half the size)
#   make unit             build and run the C unit tests of the pure-C core
#   make test             everything, on a throwaway cluster (test/run-all.sh)

EXTENSION  = sparseclip
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" sparseclip.control)

PG_CONFIG ?= /usr/lib/postgresql/15/bin/pg_config

CORE_SRCS  = $(sort $(wildcard src/core/*.c))
PG_SRCS    = $(sort $(wildcard src/*.c src/inverted/*.c src/concepts/*.c src/embed/*.c))
MODULE_big = sparseclip
OBJS       = $(PG_SRCS:.c=.o) $(CORE_SRCS:.c=.o)

# The extension script is assembled from the parts in sql/ext, in name order.
EXT_PARTS  = $(sort $(wildcard sql/ext/*.sql))
DATA_built = $(EXTENSION)--$(EXTVERSION).sql

# pg_regress runs every sql/*.sql against expected/*.out.
REGRESS      = $(patsubst sql/%.sql,%,$(sort $(wildcard sql/*.sql)))
REGRESS_OPTS = --inputdir=. --load-extension=$(EXTENSION)

WERROR ?=
PG_CPPFLAGS = -Isrc -Isrc/core
# -MMD -MP: rebuild objects when a header they include changes.
PG_CFLAGS   = -std=gnu11 -MMD -MP $(if $(WERROR),-Werror)
# -Bsymbolic: our own calls bind to our own symbols, even when another
# extension loaded first (pgvector, say) exports a function of the same name.
# OpenBLAS is not linked: src/blas_loader.c opens it on first use.
SHLIB_LINK  = -ldl -lturbojpeg -lpng16 -lwebp -lwebpdemux -lutf8proc -lm -lpthread -Wl,-Bsymbolic

EXTRA_CLEAN = test/unit/bin test/tools/bin $(OBJS:.o=.d) $(DATA_built) results regression.diffs regression.out

PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

-include $(OBJS:.o=.d)

$(DATA_built): $(EXT_PARTS) sparseclip.control
	cat $(EXT_PARTS) > $@

# ---- The default model: models/default.safetensors, when the checkout has
# one, goes to $(datadir)/sparseclip/default.safetensors (pg_config
# --sharedir), where the extension looks when sparseclip.model is empty.
# Without one, install removes a default left by an older install, so that
# the installed default is always the checkout's.
#
# The repository keeps it in F16 (half the size in its history); it is
# installed as DEFAULT_MODEL_DTYPE, F32 unless asked otherwise: backends use
# F32 weights in place from the page cache, shared by all of them, while
# F16 weights are converted into each backend's private memory (measured
# with the 73.5 MB tiny model: 7 MB against 78 MB RssAnon per backend).
# sparseclip-convert writes a temporary file and renames it, so a running
# server never sees a half-written model.
DEFAULT_MODEL       = models/default.safetensors
DEFAULT_MODEL_DIR   = $(DESTDIR)$(datadir)/sparseclip
DEFAULT_MODEL_DTYPE ?= f32
CONVERT             = test/tools/bin/sparseclip-convert

install: install-default-model
uninstall: uninstall-default-model

.PHONY: install-default-model uninstall-default-model
ifneq ($(wildcard $(DEFAULT_MODEL)),)
install-default-model: $(CONVERT)
	$(MKDIR_P) '$(DEFAULT_MODEL_DIR)'
	$(CONVERT) $(DEFAULT_MODEL) '$(DEFAULT_MODEL_DIR)/default.safetensors' --dtype $(DEFAULT_MODEL_DTYPE)
else
install-default-model:
	rm -f '$(DEFAULT_MODEL_DIR)/default.safetensors'
endif

uninstall-default-model:
	rm -f '$(DEFAULT_MODEL_DIR)/default.safetensors'
	rmdir '$(DEFAULT_MODEL_DIR)' 2>/dev/null || true

# ---- C unit tests of the pure-C core (no PostgreSQL needed) ----
UNIT_SRCS   = $(sort $(wildcard test/unit/test_*.c))
UNIT_BINS   = $(patsubst test/unit/%.c,test/unit/bin/%,$(UNIT_SRCS))
UNIT_CFLAGS = -std=gnu11 -O2 -g -Wall -Wextra $(if $(WERROR),-Werror) -Isrc/core -Itest/unit
UNIT_LIBS   = -lopenblas -lturbojpeg -lpng16 -lwebp -lwebpdemux -lutf8proc -lm -lpthread

test/unit/bin/%: test/unit/%.c $(CORE_SRCS) $(wildcard src/core/*.h) test/unit/unit.h
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(CORE_SRCS) $(UNIT_LIBS)

# The scan's kernels, included whole: PostgreSQL's headers and libpgport,
# no server (an explicit rule wins over the pattern above).
PG_PORT_LIB = $(firstword $(wildcard $(shell $(PG_CONFIG) --libdir)/libpgport.a $(shell $(PG_CONFIG) --pkglibdir)/libpgport.a))
test/unit/bin/test_inverted_kernels: test/unit/test_inverted_kernels.c test/unit/inverted_pieces.h src/inverted/scan_kernels.c src/inverted/scan.h src/inverted/inverted.h test/unit/unit.h
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -Wno-attributes -Isrc -Isrc/inverted -isystem $(shell $(PG_CONFIG) --includedir-server) -o $@ $< $(PG_PORT_LIB) -lm

# Helper programs for tests and benchmarks (random model files, ...).
TOOL_SRCS = $(sort $(wildcard test/tools/*.c))
TOOL_BINS = $(patsubst test/tools/%.c,test/tools/bin/%,$(TOOL_SRCS))

test/tools/bin/%: test/tools/%.c $(CORE_SRCS) $(wildcard src/core/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -Isrc/core -o $@ $< $(CORE_SRCS) $(UNIT_LIBS)

# The model converter of training/, for tests that need an F16 model.
TOOL_BINS += test/tools/bin/sparseclip-convert
test/tools/bin/sparseclip-convert: training/convert.c $(CORE_SRCS) $(wildcard src/core/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(UNIT_CFLAGS) -o $@ $< $(CORE_SRCS) $(UNIT_LIBS)

.PHONY: unit test tools
tools: $(TOOL_BINS)

unit: $(UNIT_BINS)
	@status=0; for t in $(UNIT_BINS); do echo "== $$t"; $$t || status=1; done; exit $$status

test:
	bash test/run-all.sh
