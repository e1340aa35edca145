// Package registry packages a trained model as an OCI image or a CNCF
// ModelPack artifact, pushes it, moves tags and pulls the model back.
//
// The image is built the way ko builds one, without a Docker daemon: a base
// image (or nothing), then a layer with the model-release binary and a layer
// with the model folder, with a config that makes the image serve the model.
// Layers are reproducible (sorted entries, fixed owners, modes and times), so
// the same model, binary and base give the same digest and a re-run pushes
// nothing new.
//
// Only this package imports go-containerregistry; its API speaks strings,
// so callers never need ggcr types.
package registry
