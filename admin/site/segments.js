// SMS segments by GSM 03.38, as smscore/domain/segments.py counts them (what a campaign costs).

const GSM7_BASIC = new Set(
  "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà",
);
const GSM7_EXTENSION = new Set("^{}\\[~]|€\f");

function parts(units, single, part) {
  return units <= single ? 1 : Math.ceil(units / part);
}

/** {encoding, units, segments, characters, perSegment, offender}: offender is the first non-GSM character. */
export function countSegments(text) {
  let septets = 0;
  for (const char of text) {
    if (GSM7_BASIC.has(char)) septets += 1;
    else if (GSM7_EXTENSION.has(char)) septets += 2;
    else {
      const units = text.length; // JavaScript strings are UTF-16: an emoji outside the BMP counts 2
      const segments = parts(units, 70, 67);
      return { encoding: "UCS-2", units, segments, perSegment: segments === 1 ? 70 : 67, offender: char };
    }
  }
  const segments = parts(septets, 160, 153);
  return { encoding: "GSM-7", units: septets, segments, perSegment: segments === 1 ? 160 : 153, offender: null };
}
