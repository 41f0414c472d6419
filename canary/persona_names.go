package canary

import "strings"

// The name lists below are what personas are drawn from. Within each list the
// given names (vi-VN, en-US) and surnames (zh-CN) differ after folding,
// because greetings quote exactly that part ("chị Linh", "王女士", "Hi Linda").

var viFemaleGiven = strings.Fields(`Linh Lan Hương Trang Hà Mai Anh Thảo Ngọc Hạnh Hoa Huyền Nhung
Phương Thủy Vân Yến Loan Dung Diệp Giang Hằng Hiền Hồng Huệ Khánh Kiều Liên Ly Mỹ Nga Ngân Nhi Nhàn
Oanh Quyên Quỳnh Sương Tâm Thanh Thu Tiên Trinh Tuyết Uyên Vy Xuân Bích Châu Cúc Diễm Đào Duyên Gấm
Hậu Hân Hoài Khuê Lam Lệ Liễu Mến Minh Nguyệt Như Quế Quý Sen Thắm Thơ Thoa Trâm Tú Tuyền Vi Vinh
Yểu Đan Hảo Kim Lụa Nương Phấn Sáng Thêu Trà Tươi Xinh Ái Bảo Diệu Kha Lài Lộc Mơ Nhã Phúc Thi
Thục Tường Viên`)

var viMaleGiven = strings.Fields(`Hùng Tuấn Nam Long Khoa Phong Quang Sơn Thắng Trung Việt Bình Cường
Đức Hải Hiếu Hoàng Huy Khải Kiên Lực Mạnh Nghĩa Phát Quân Tài Thiện Thịnh Toàn Trí Tùng Vũ Công
Chiến Đạt Định Khang Lợi Luân Nguyên Phú Quyết Tân Thái Thông Trọng Tuệ Xuyên Bách Duy Gia Hiệp
Khôi Nhật Quốc Tín Triết`)

var viSurnames = strings.Fields(`Nguyễn Trần Lê Phạm Hoàng Huỳnh Phan Vũ Võ Đặng Bùi Đỗ Hồ Ngô Dương Lý
Đinh Trịnh Mai Tô Lương Đoàn Tạ Cao Lâm Hà Quách Thái Chu Kiều`)

var viFemaleMiddle = strings.Fields(`Thị Ngọc Thu Thanh Minh Hoài Bảo Kim Mỹ Phương Diệu Khánh`)

var viMaleMiddle = strings.Fields(`Văn Minh Quang Đức Hữu Công Gia Thành Tuấn Xuân Đình Quốc`)

// zhSurnames pairs each surname with its pinyin for email local parts.
var zhSurnames = pairs(`王 wang 李 li 张 zhang 刘 liu 陈 chen 杨 yang 黄 huang 赵 zhao 吴 wu 周 zhou
徐 xu 孙 sun 马 ma 朱 zhu 胡 hu 郭 guo 何 he 高 gao 林 lin 罗 luo 郑 zheng 梁 liang 谢 xie 宋 song
唐 tang 许 xu 韩 han 冯 feng 邓 deng 曹 cao 彭 peng 曾 zeng 肖 xiao 田 tian 董 dong 袁 yuan 潘 pan
于 yu 蒋 jiang 蔡 cai 余 yu 杜 du 叶 ye 程 cheng 苏 su 魏 wei 吕 lyu 丁 ding 任 ren 沈 shen 姚 yao
卢 lu 姜 jiang 崔 cui 钟 zhong 谭 tan 陆 lu 汪 wang 范 fan 金 jin 石 shi 廖 liao 贾 jia 夏 xia 韦 wei
付 fu 方 fang 白 bai 邹 zou 孟 meng 熊 xiong 秦 qin 邱 qiu 江 jiang 尹 yin 薛 xue 闫 yan 段 duan
雷 lei 侯 hou 龙 long 史 shi 陶 tao 黎 li 贺 he 顾 gu 毛 mao 郝 hao 龚 gong 邵 shao 万 wan 钱 qian
严 yan 武 wu 戴 dai 莫 mo 孔 kong 向 xiang 汤 tang`)

var zhFemaleGiven = pairs(`芳 fang 娜 na 敏 min 静 jing 丽 li 艳 yan 娟 juan 秀英 xiuying 霞 xia
桂英 guiying 玲 ling 婷 ting 雪 xue 琳 lin 欣 xin 佳 jia 悦 yue 萍 ping 颖 ying 倩 qian 慧 hui 燕 yan
红 hong 梅 mei 丹 dan 洁 jie 晶 jing 璐 lu 瑶 yao 蕾 lei 嘉怡 jiayi 雨婷 yuting 梓涵 zihan 思琪 siqi`)

var zhMaleGiven = pairs(`强 qiang 磊 lei 军 jun 洋 yang 勇 yong 杰 jie 涛 tao 明 ming 超 chao 平 ping
刚 gang 华 hua 宇 yu 浩 hao 鹏 peng 辉 hui 斌 bin 波 bo 峰 feng 建国 jianguo 志强 zhiqiang 子轩 zixuan
俊杰 junjie 文博 wenbo`)

var enFemaleGiven = strings.Fields(`Linda Mary Patricia Jennifer Elizabeth Barbara Susan Jessica Sarah
Karen Nancy Lisa Betty Margaret Sandra Ashley Kimberly Emily Donna Michelle Dorothy Carol Amanda
Melissa Deborah Stephanie Rebecca Sharon Laura Cynthia Kathleen Amy Angela Shirley Anna Brenda Pamela
Emma Nicole Helen Samantha Katherine Christine Debra Rachel Carolyn Janet Catherine Maria Heather
Diane Ruth Julie Olivia Joyce Virginia Victoria Kelly Lauren Christina Joan Evelyn Judith Megan
Andrea Cheryl Hannah Jacqueline Martha Gloria Teresa Ann Sara Madison Frances Kathryn Janice Jean
Abigail Alice Judy Sophia Grace Denise Amber Doris Marilyn Danielle Beverly Isabella Theresa Diana
Natalie Brittany Charlotte Marie Kayla Alexis Lori`)

var enMaleGiven = strings.Fields(`James Robert John Michael David William Richard Joseph Thomas
Christopher Charles Daniel Matthew Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian
George Timothy Ronald Edward Jason Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan Stephen Larry Justin
Scott Brandon Benjamin Samuel Gregory Alexander Frank Patrick Raymond Jack Dennis Jerry Tyler Aaron
Jose Adam Nathan Henry Douglas Zachary Peter Kyle Ethan Walter Noah Jeremy Christian Keith Roger
Terry Gerald Harold Sean Austin Carl Arthur Lawrence Dylan Jesse Jordan Bryan Billy Joe Bruce Gabriel
Logan Albert Willie Alan Juan Wayne Elijah Randy Roy Vincent Ralph Eugene Russell Bobby Mason Philip
Louis`)

var enSurnames = strings.Fields(`Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez
Martinez Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez
Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres
Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts`)

// pairs reads "value ascii value ascii ..." into [value, ascii] pairs.
func pairs(s string) [][2]string {
	f := strings.Fields(s)
	out := make([][2]string, 0, len(f)/2)
	for i := 0; i+1 < len(f); i += 2 {
		out = append(out, [2]string{f[i], f[i+1]})
	}
	return out
}
