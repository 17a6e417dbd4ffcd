// Injected into the browser bundle by scripts/build-web.mjs: Node's Buffer, as the `buffer` package.
export { Buffer } from 'buffer';
