import { describe, expect, it } from 'vitest';
import ExcelJS from 'exceljs';
import { contentDisposition, safeSheetName, toCsv, toXlsx, type ExportTable } from '../../server/platform/exports';

interface Row { name: string; rate: number | null; note: string }

const table: ExportTable<Row> = {
  sheetName: '网格考核/2026:11',
  columns: [
    { key: 'name', header: '网格', width: 24 },
    { key: 'rate', header: '按期结案率', width: 12, numFmt: '0.0%' },
    { key: (r) => r.note.toUpperCase(), header: '备注' },
  ],
  rows: [
    { name: '柳巷街道 第1网格', rate: 0.925, note: 'a,b' },
    { name: '说 "好"', rate: null, note: 'line\nbreak' },
  ],
};

describe('exports', () => {
  it('writes an .xlsx that exceljs reads back: bold frozen header, widths, values', async () => {
    const bytes = await toXlsx(table);
    expect(bytes.subarray(0, 2).toString('latin1')).toBe('PK'); // a zip
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(bytes as unknown as ArrayBuffer);
    const sheet = wb.worksheets[0]!;
    expect(sheet.name).toBe('网格考核 2026 11');
    expect(sheet.getRow(1).values).toEqual([undefined, '网格', '按期结案率', '备注']);
    expect(sheet.getRow(1).font?.bold).toBe(true);
    expect(sheet.views[0]).toMatchObject({ state: 'frozen', ySplit: 1 });
    expect(sheet.getColumn(1).width).toBe(24);
    expect(sheet.getCell('A2').value).toBe('柳巷街道 第1网格');
    expect(sheet.getCell('B2').value).toBe(0.925);
    expect(sheet.getCell('B2').numFmt).toBe('0.0%');
    expect(sheet.getCell('C2').value).toBe('A,B');
    expect(sheet.rowCount).toBe(3);
  });

  it('writes CSV with a UTF-8 BOM, CRLF and RFC 4180 quoting', () => {
    const bytes = toCsv(table);
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const text = bytes.subarray(3).toString('utf8');
    expect(text).toBe('网格,按期结案率,备注\r\n柳巷街道 第1网格,0.925,"A,B"\r\n"说 ""好""",,"LINE\nBREAK"\r\n');
  });

  it('names the file in ASCII and in RFC 5987 UTF-8', () => {
    expect(contentDisposition('网格考核-2026-11.xlsx')).toBe(
      `attachment; filename="____-2026-11.xlsx"; filename*=UTF-8''%E7%BD%91%E6%A0%BC%E8%80%83%E6%A0%B8-2026-11.xlsx`,
    );
    expect(safeSheetName('a'.repeat(40))).toHaveLength(31);
  });
});
