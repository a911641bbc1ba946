// Types for /ui/describe-contract.js, which the server builds from the CLI's own function (web-ui.ts).
export { describeAnswer, describeContract, describeManifest } from '../../../core/format-deliveries.js';
