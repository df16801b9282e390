// F-VM / F-USER PIN rules (seed-003 §2.10): 4–8 digits, no run of 4 or more ascending or descending
// consecutive digits (1234, 9876; also wrapping 8901 is not a run), no run of 4 or more identical digits.
// "Identical" is read as adjacent (1111 in 21111x): the source does not say, and rejecting any four equal
// digits anywhere would refuse PINs such as 10203040 that are not easy to guess. Shared by the config
// check (load time) and the change-PIN key of the voicemail menu, so both say the same.

export const PIN_PATTERN = /^[0-9]{4,8}$/;

/** Why a PIN is refused, or undefined when it is acceptable. */
export function pinProblem(pin: string): string | undefined {
  if (!PIN_PATTERN.test(pin)) return 'a PIN is 4–8 digits';
  let up = 1;
  let down = 1;
  let same = 1;
  for (let i = 1; i < pin.length; i++) {
    const step = pin.charCodeAt(i) - pin.charCodeAt(i - 1);
    up = step === 1 ? up + 1 : 1;
    down = step === -1 ? down + 1 : 1;
    same = step === 0 ? same + 1 : 1;
    if (up >= 4 || down >= 4) return 'a PIN must not contain 4 or more sequential digits (such as 1234 or 9876)';
    if (same >= 4) return 'a PIN must not contain 4 or more identical digits in a row (such as 1111)';
  }
  return undefined;
}
