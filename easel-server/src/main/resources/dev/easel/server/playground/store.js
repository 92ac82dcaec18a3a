// What the playground keeps in this browser: the key (localStorage) and every result (IndexedDB).

const KEY = 'easel.apiKey';

export const savedKey = () => localStorage.getItem(KEY) || '';
export const saveKey = (key) => localStorage.setItem(KEY, key);
export const forgetKey = () => localStorage.removeItem(KEY);

const DB = 'easel-playground';
const STORE = 'results';

function open() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: 'id', autoIncrement: true });
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function run(mode, work) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const req = work(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(req ? req.result : undefined);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error || new Error('the history transaction was aborted'));
    });
  } finally {
    db.close();
  }
}

/**
 * Saves one result: { created, mode, model, params (every request field, the seed used included),
 * image (PNG Blob), source and mask (Blobs, edits only) }. Answers its id.
 */
export const addResult = (entry) => run('readwrite', (s) => s.add(entry));
export const deleteResult = (id) => run('readwrite', (s) => s.delete(id));
export const clearResults = () => run('readwrite', (s) => s.clear());

/** Every result, newest first. */
export async function allResults() {
  const list = await run('readonly', (s) => s.getAll());
  return list.sort((a, b) => b.id - a.id);
}
