// What this test process prints, the runtime's logs among it (wrangler's dev engine runs
// in-process), for a test that checks what the Worker logged. Importing it starts the
// capture; the output still goes where it went.

/** Every chunk written to stdout or stderr since the import, colours stripped. */
export const printed = [];
for (const stream of [process.stdout, process.stderr]) {
  const write = stream.write.bind(stream);
  stream.write = (chunk, ...rest) => {
    printed.push(String(chunk).replace(/\x1b\[[0-9;]*m/g, ''));
    return write(chunk, ...rest);
  };
}

/** The lines printed since `from` (an index of `printed`). */
export const printedLines = (from = 0) => printed.slice(from).join('').split('\n');
