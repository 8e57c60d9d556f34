// Checked element access for tests under `noUncheckedIndexedAccess`: a missing element fails the
// test with a message naming the index and length, rather than later as "reading of undefined".
export function at<T>(items: ArrayLike<T>, index: number, what = 'element'): T {
  const i = index < 0 ? items.length + index : index;
  if (i < 0 || i >= items.length) {
    throw new Error(`expected ${what} [${index}], but there are only ${items.length}`);
  }
  return items[i] as T; // in range, checked above
}

type Tuple<T, N extends number, Acc extends T[] = []> = Acc['length'] extends N
  ? Acc
  : Tuple<T, N, [...Acc, T]>;

// The first `count` items as a tuple, for `const [a, b] = firstItems(rows, 2)`: throws when
// there are fewer.
export function firstItems<T, N extends number>(
  items: readonly T[],
  count: N,
  what = 'items',
): Tuple<T, N> {
  if (items.length < count) {
    throw new Error(`expected at least ${count} ${what}, but there are only ${items.length}`);
  }
  return items.slice(0, count) as Tuple<T, N>; // length checked above
}
