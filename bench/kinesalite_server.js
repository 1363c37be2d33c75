// Starts kinesalite bound to 127.0.0.1 (its own CLI listens on every interface).
//   node kinesalite_server.js PORT [DATA_DIR]
// With DATA_DIR the store is LevelDB on disk, otherwise in memory.
'use strict'
const path = require('path')
const kinesalite = require(path.join(__dirname, 'node_modules', 'kinesalite'))

const port = Number(process.argv[2])
const dataDir = process.argv[3]
if (!port) {
  console.error('usage: node kinesalite_server.js PORT [DATA_DIR]')
  process.exit(2)
}
// The default shard limit (10) would refuse the larger benchmark streams.
const options = { shardLimit: 100000 }
if (dataDir) options.path = dataDir
const server = kinesalite(options).listen(port, '127.0.0.1', () => {
  console.log('kinesalite listening on 127.0.0.1:%d (%s)', port, dataDir ? 'LevelDB ' + dataDir : 'in memory')
})
process.on('SIGTERM', () => server.close(() => process.exit(0)))
process.on('SIGINT', () => process.exit(0))
