// train: idle-time learning on the robot. Adapters on disk in the PEFT format (peft.ts over
// safetensors.ts) and the adapter store with lineage (adapter-store.ts).
export { encodeSafetensors, decodeSafetensors, SafetensorsError, type F32Tensor, type SafetensorsContents } from './safetensors.js';
export { writePeftAdapter, readPeftAdapter, parsePeftAdapter, packToPeft, peftToPack, peftConfig, peftModules, loraKey, PeftError, PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE, type PeftAdapter, type PeftModule, type LoraSpec } from './peft.js';
export { AdapterStore, type AdapterState, type AdapterStoreEvent, type AdapterRecovery, type BootAdapter } from './adapter-store.js';
export { checkLineageInput, parseLineage, LINEAGE_FILE, type AdapterLineage, type LineageInput, type AdapterEvent, type AdapterEventKind } from './lineage.js';
export { EpisodeHistory, OnlineWindow, summarize, type EpisodeFacts, type EpisodeSummary, type OnlineWindowLimits, type WindowVerdict } from './online-window.js';
