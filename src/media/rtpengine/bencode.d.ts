// bencode 4 ships JavaScript only; the two functions the ng client uses, typed.
declare module 'bencode' {
  type Value = number | string | Uint8Array | Value[] | { [key: string]: Value };
  const bencode: {
    encode(data: unknown): Uint8Array;
    /** Byte strings come back as Uint8Array. */
    decode(data: Uint8Array): Value;
  };
  export default bencode;
}
