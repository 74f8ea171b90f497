// Reads a wasm module's export names straight from its bytes (no compilation, so it works
// for modules using proposals Node's engine does not enable).
import fs from 'node:fs';

/** The names of every export of the wasm file at `file`. */
export function wasmExports(file) {
  const b = fs.readFileSync(file);
  if (b.readUInt32LE(0) !== 0x6d736100) throw new Error(`${file} is not wasm`);
  let i = 8;
  const leb = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const byte = b[i++];
      result += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (byte < 0x80) return result;
    }
  };
  while (i < b.length) {
    const id = b[i++];
    const size = leb();
    const end = i + size;
    if (id === 7) {
      const names = [];
      for (let n = leb(); n > 0; n--) {
        const len = leb();
        names.push(b.subarray(i, i + len).toString('utf8'));
        i += len + 1; // name, then the kind byte
        leb(); // index
      }
      return names;
    }
    i = end;
  }
  return [];
}
