// Preloaded (node --require, via NODE_OPTIONS) into the CLI child of signals.test.ts. The CLI
// draws its progress bar ("done/total | point | ETA") only when stderr is a terminal, and the
// child's stderr is a pipe; claiming a terminal sends the bar down the pipe, so the test can wait
// until a point has completed instead of sleeping a fixed time. Only the progress bar reads
// isTTY (src/cli/commands/suite-command.ts); the run, its signal handling and its files do not.
process.stderr.isTTY = true;
