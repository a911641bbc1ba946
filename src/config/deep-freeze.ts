// Loaded config is shared by every job of a process; freezing turns an accidental write into an error.

const sealed = new WeakSet<object>();

/** A Map that refuses writes once built (Object.freeze alone does not stop Map#set). */
class FrozenMap<K, V> extends Map<K, V> {
  constructor(entries: Iterable<readonly [K, V]>) {
    super(entries);
    sealed.add(this);
    Object.freeze(this);
  }

  override set(key: K, value: V): this {
    if (sealed.has(this)) throw new TypeError('config is frozen');
    return super.set(key, value);
  }

  override delete(_key: K): boolean {
    throw new TypeError('config is frozen');
  }

  override clear(): void {
    throw new TypeError('config is frozen');
  }
}

/** A read-only map whose writes throw. */
export function freezeMap<K, V>(entries: Iterable<readonly [K, V]>): ReadonlyMap<K, V> {
  return new FrozenMap(entries);
}

/** Freezes plain objects and arrays recursively and returns the same value. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
