#!/usr/bin/env bash
# Generates the default voice pack (voice/mandarin) with espeak-ng, a freely
# licensed offline synthesiser (GPL-3.0-or-later; the generated audio is
# program output, not covered by the GPL). Mandarin uses the cmn-latn-pinyin
# voice with tone-numbered pinyin; letters and English phrases use en-us.
# The chime is two synthesised tones. Run: bash display-board/voice/generate.sh
# (needs: apt-get install espeak-ng). A hall may replace the folder with
# human recordings: same file names, 16-bit PCM WAV, one sample rate.
set -euo pipefail
cd "$(dirname "$0")"
out=mandarin
rm -rf "$out" && mkdir -p "$out"
say() { # id voice text
  espeak-ng -v "$2" -s 150 -w "$out/$1.wav" "$3"
  echo "$1 = \"$1.wav\"" >> "$out/clips.part"
}
zh() { say "$1" cmn-latn-pinyin "$2"; }
zh zh_qing "qing3"
zh zh_hao "hao4"
zh zh_dao "dao4"
zh zh_hao_chuangkou "hao4 chuang1 kou3"
zh zh_banli "ban4 li3"
zh zh_10 "shi2"
zh zh_100 "bai3"
i=0
for p in ling2 yi1 er4 san1 si4 wu3 liu4 qi1 ba1 jiu3; do zh "zh_$i" "$p"; i=$((i+1)); done
for c in a b c d e f g h i j k l m n o p q r s t u v w x y z; do
  say "letter_$c" en-us "$(echo "$c" | tr a-z A-Z)"
done
say en_ticket en-us "ticket"
say en_please_go_to_window en-us "please go to window"
say en_hundred en-us "hundred"
words=(zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen)
for n in $(seq 0 19); do say "en_$n" en-us "${words[$n]}"; done
tens=("" "" twenty thirty forty fifty sixty seventy eighty ninety)
for t in 2 3 4 5 6 7 8 9; do say "en_$((t*10))" en-us "${tens[$t]}"; done
python3 - "$out/chime.wav" <<'PY'
import math, struct, sys, wave
rate = 22050
frames = []
for freq, dur in ((659.25, 0.35), (523.25, 0.55)):
    n = int(rate * dur)
    for i in range(n):
        env = math.exp(-3.0 * i / n)
        v = 0.5 * env * (math.sin(2 * math.pi * freq * i / rate) + 0.3 * math.sin(4 * math.pi * freq * i / rate))
        frames.append(int(max(-1, min(1, v)) * 32767))
with wave.open(sys.argv[1], "wb") as w:
    w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
    w.writeframes(struct.pack("<%dh" % len(frames), *frames))
PY
# Trim the silence espeak-ng puts around each clip (keep 30 ms), so a
# phrase flows; the chime is left as it is.
python3 - "$out" <<'PY'
import glob, struct, sys, wave
for path in glob.glob(sys.argv[1] + "/*.wav"):
    if path.endswith("chime.wav"):
        continue
    with wave.open(path) as r:
        rate, n = r.getframerate(), r.getnframes()
        data = struct.unpack("<%dh" % n, r.readframes(n))
    loud = [i for i, s in enumerate(data) if abs(s) > 400]
    if not loud:
        continue
    keep = int(rate * 0.03)
    a, b = max(0, loud[0] - keep), min(n, loud[-1] + keep)
    with wave.open(path, "wb") as w:
        w.setnchannels(1); w.setsampwidth(2); w.setframerate(rate)
        w.writeframes(struct.pack("<%dh" % (b - a), *data[a:b]))
PY
{
  echo 'name = "Mandarin (espeak-ng cmn-latn-pinyin), letters and English in en-us"'
  echo 'licence = "Generated with espeak-ng (GPL-3.0-or-later) by voice/generate.sh; the audio is program output and may be used freely"'
  echo 'chime = "chime.wav"'
  echo
  echo '[clips]'
  sort "$out/clips.part"
} > "$out/manifest.toml"
rm "$out/clips.part"
echo "wrote $(ls "$out" | wc -l) files to $out"
