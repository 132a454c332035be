// Emits segments with the real AWS X-Ray SDK for Node.js to the daemon named by
// AWS_XRAY_DAEMON_ADDRESS, then prints the trace ids it created, one per line.
const AWSXRay = require('aws-xray-sdk-core');

AWSXRay.setContextMissingStrategy('IGNORE_ERROR');
AWSXRay.middleware.disableCentralizedSampling();
AWSXRay.setLogger({ error: console.error, warn: () => {}, info: () => {}, debug: () => {} });

const count = parseInt(process.argv[2] || '3', 10);
const ids = [];
for (let i = 0; i < count; i++) {
  const seg = new AWSXRay.Segment('node-app');
  seg.addAnnotation('runtime', 'node');
  seg.addAnnotation('n', i);
  seg.setUser('bob');
  const sub = seg.addNewSubsegment('compute');
  sub.addMetadata('step', { i });
  sub.close();
  const db = seg.addNewSubsegment('orders-db');
  db.namespace = 'remote';
  db.close();
  seg.close();
  ids.push(seg.trace_id);
}
// The emitter sends asynchronously; give the socket a moment before exiting.
setTimeout(() => { console.log(ids.join('\n')); }, 300);
