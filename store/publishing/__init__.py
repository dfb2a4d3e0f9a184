"""Publishing pipeline: from an upload (GGUF, archive or model folder files) to a ready version.

upload_limits  the streaming size limit (an upload handler)
validation     what can be refused from names, sizes and archive members, before storing
storage        where staged uploads and processed versions live on disk
checksum       sha256 of files, streamed
safetensors_header  structural check of a .safetensors file
conversion     GGUF → plain safetensors folder
metadata       what a model folder says about itself (architecture, sizes, chat template)
smoke_test     load the model and generate a few tokens
services       version_create / version_process (the writes)
selectors      the reads of the publisher studio
"""
