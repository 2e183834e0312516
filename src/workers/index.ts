/** The worker pool's entry: the file phase's reader (default) and the walk's directory lister. */
export { default } from './read-files.js';
export { walkDirs } from './walk-dirs.js';
