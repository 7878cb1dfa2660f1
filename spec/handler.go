package spec

import (
	"fmt"
	"strings"
)

// Handler tells what the spec's annotations ask for. Engines (podman/crun,
// containerd wasm shims) mark wasm images with annotations, and honouring
// them lets runw be a drop-in for crun's wasm handler.
type Handler int

// The handlers HandlerFor can report.
const (
	// HandlerAuto means no wasm annotation: decide by content.
	HandlerAuto Handler = iota
	// HandlerWasm is run.oci.handler=wasm or
	// module.wasm.image/variant=compat: run as wasm unless the file is
	// plainly native.
	HandlerWasm
	// HandlerWasmSmart is run.oci.handler=wasm-smart or
	// module.wasm.image/variant=compat-smart: wasm only when args[0] ends
	// in .wasm or .wat.
	HandlerWasmSmart
)

// The annotation keys HandlerFor reads.
const (
	// AnnotationHandler is crun's runtime handler annotation.
	AnnotationHandler = "run.oci.handler"
	// AnnotationVariant is the wasm image variant annotation set by
	// image builders (compat / compat-smart).
	AnnotationVariant = "module.wasm.image/variant"
)

// String names the handler for logs.
func (h Handler) String() string {
	switch h {
	case HandlerAuto:
		return "auto"
	case HandlerWasm:
		return "wasm"
	case HandlerWasmSmart:
		return "wasm-smart"
	}
	return fmt.Sprintf("Handler(%d)", int(h))
}

// HandlerFor reads the wasm annotations. run.oci.handler is consulted first
// because it is the runtime-level switch; the image variant is the fallback.
// Unknown values mean HandlerAuto, so a typo never forces wasm on a native
// image.
func HandlerFor(annotations map[string]string) Handler {
	switch annotations[AnnotationHandler] {
	case "wasm":
		return HandlerWasm
	case "wasm-smart":
		return HandlerWasmSmart
	}
	switch annotations[AnnotationVariant] {
	case "compat":
		return HandlerWasm
	case "compat-smart":
		return HandlerWasmSmart
	}
	return HandlerAuto
}

// IsWasm decides whether runw runs the entrypoint itself (true) or it is a
// native program (false). A native file is never treated as wasm, whatever
// the annotations say, because feeding an ELF to wasmtime can only fail.
func IsWasm(h Handler, ep *Entrypoint) bool {
	if ep == nil {
		return false
	}
	wasmKind := ep.Kind.IsWasm()
	switch h {
	case HandlerWasm:
		return ep.Kind != KindNative
	case HandlerWasmSmart:
		return wasmKind && (strings.HasSuffix(ep.GuestPath, ".wasm") || strings.HasSuffix(ep.GuestPath, ".wat"))
	}
	return wasmKind
}
