// io/ws: the WebSocket peer protocol server (openpi's).
export { OpenpiServer, defaultOpenpiMapping, checkOpenpiMapping, DEFAULT_OPENPI_PORT, type OpenpiMapping, type OpenpiServerOptions } from './openpi.js';
