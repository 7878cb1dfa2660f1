// hello.js: the JavaScript component of the component tests, built by
// componentize-js into a wasi:cli/run command (without wasi:http).
export const run = {
  run() {
    console.log("hello from a JavaScript component");
  },
};
